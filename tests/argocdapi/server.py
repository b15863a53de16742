"""An Argo CD API test server: `GET /api/v1/applications/{name}`, `POST .../{name}/sync` and
`GET .../{name}/managed-resources`.

There is no Argo CD here. Shapes follow Argo CD's API (server/application, swagger):
the sync body is an `applicationApplicationSyncRequest` (unknown fields are refused), both
calls answer a `v1alpha1Application`, errors are grpc-gateway bodies `{error, code,
message}`. After a sync, each GET moves the Application one step along a scripted status
progression (for example Synced/Progressing, then Synced/Healthy, or Degraded).
`managed-resources` answers an `applicationManagedResourcesResponse`: one `v1alpha1ResourceDiff`
per live object added with `App.live` (liveState is the object's JSON, Secret values
masked with `+` as Argo CD masks them); only the documented query parameters are accepted.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.loopback import json_reply, serve, shutdown

MANAGED_QUERY = {"namespace", "name", "version", "group", "kind", "appNamespace", "project"}
SYNC_REQUEST_FIELDS = {
    "name",
    "revision",
    "dryRun",
    "prune",
    "strategy",
    "resources",
    "manifests",
    "infos",
    "retryStrategy",
    "syncOptions",
    "appNamespace",
    "project",
    "sourcePositions",
    "revisions",
}
HEALTHY = [("Synced", "Healthy", "Succeeded")]
PROGRESSING = [
    ("OutOfSync", "Healthy", "Running"),
    ("Synced", "Progressing", "Succeeded"),
    ("Synced", "Healthy", "Succeeded"),
]
DEGRADED = [("Synced", "Progressing", "Succeeded"), ("Synced", "Degraded", "Succeeded")]
STUCK = [("OutOfSync", "Progressing", "Running")]


@dataclass
class App:
    """One Application: its revision, scripted steps and per-resource statuses."""

    name: str
    revision: str = ""
    sync: str = "OutOfSync"
    health: str = "Healthy"
    phase: str = ""
    script: list[tuple[str, str, str]] = field(default_factory=lambda: list(PROGRESSING))
    steps: list[tuple[str, str, str]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    live: list[dict[str, Any]] = field(default_factory=list)  # objects as the cluster has them
    namespace: str = "argocd"

    def managed(self) -> dict[str, Any]:
        items = []
        for body in self.live:
            meta = body.get("metadata") or {}
            shown = json.loads(json.dumps(body))
            if body.get("kind") == "Secret":  # Argo CD never shows Secret values
                shown["data"] = {
                    k: "+" * (8 + len(v) % 5) for k, v in (body.get("data") or {}).items()
                }
            api = str(body.get("apiVersion") or "")
            items.append(
                {
                    "group": api.rpartition("/")[0],
                    "kind": body.get("kind"),
                    "namespace": meta.get("namespace", ""),
                    "name": meta.get("name"),
                    "liveState": json.dumps(shown),
                    "targetState": "null",
                    "normalizedLiveState": json.dumps(shown),
                    "modified": False,
                    "hook": False,
                }
            )
        return {"items": items}

    def document(self) -> dict[str, Any]:
        op: dict[str, Any] = {}
        if self.phase:
            op = {
                "phase": self.phase,
                "message": self.message or f"sync {self.phase.lower()}",
                "operation": {"sync": {"revision": self.revision}},
                "syncResult": {"revision": self.revision},
            }
        return {
            "metadata": {"name": self.name, "namespace": "argocd"},
            "spec": {
                "project": "default",
                "source": {
                    "repoURL": "https://git.example/env.git",
                    "path": "deploy",
                    "targetRevision": "env/prod",
                },
                "destination": {"server": "https://kubernetes.default.svc"},
            },
            "status": {
                "sync": {"status": self.sync, "revision": self.revision},
                "health": {
                    "status": self.health,
                    **({"message": self.message} if self.message else {}),
                },
                "operationState": op,
                "resources": self.resources,
            },
        }


class ArgoCDServer:
    """Serves Applications added with `add()`; `token` must come as a Bearer header."""

    def __init__(self, token: str = "argocd-test-token") -> None:
        self.token = token
        self.apps: dict[str, App] = {}
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.in_progress = False
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def add(
        self,
        name: str,
        script: list[tuple[str, str, str]] | None = None,
        resources: list[dict[str, Any]] | None = None,
        message: str = "",
    ) -> App:
        app = App(
            name,
            script=list(script if script is not None else PROGRESSING),
            resources=resources or [],
            message=message,
        )
        self.apps[name] = app
        return app

    def start(self) -> ArgoCDServer:
        self._httpd = serve(
            lambda method, target, headers, raw: json_reply(
                *self.handle(method, target, headers, raw)
            )
        )
        return self

    def stop(self) -> None:
        shutdown(self._httpd)

    @property
    def url(self) -> str:
        assert self._httpd
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def syncs(self) -> list[Any]:
        return [body for method, path, _, body in self.requests if path.endswith("/sync")]

    @staticmethod
    def _error(code: int, grpc: int, message: str) -> tuple[int, Any]:
        return code, {"error": message, "code": grpc, "message": message}

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        path = urlsplit(target).path
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._error(400, 3, "invalid JSON body")
        self.requests.append((method, path, headers, body))
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(401, 16, "no session information")
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:3] != ["api", "v1", "applications"] or len(parts) not in (4, 5):
            return self._error(404, 5, "Not Found")
        query = parse_qs(urlsplit(target).query)
        with self.lock:
            app = self.apps.get(parts[3])
            if app is None or app.namespace != query.get("appNamespace", [app.namespace])[0]:
                return self._error(404, 5, f'applications.argoproj.io "{parts[3]}" not found')
            if method == "GET" and len(parts) == 5 and parts[4] == "managed-resources":
                if set(query) - MANAGED_QUERY:
                    return self._error(
                        400, 3, f"unknown query parameters {sorted(set(query) - MANAGED_QUERY)}"
                    )
                return 200, app.managed()
            if method == "GET" and len(parts) == 4:
                if app.steps:
                    app.sync, app.health, app.phase = app.steps.pop(0)
                return 200, app.document()
            if method == "POST" and len(parts) == 5 and parts[4] == "sync":
                return self._sync(app, body)
        return self._error(405, 12, "Method Not Allowed")

    def _sync(self, app: App, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) - SYNC_REQUEST_FIELDS:
            return self._error(
                400,
                3,
                f"unknown fields in sync request: {sorted(set(body or {}) - SYNC_REQUEST_FIELDS)}",
            )
        if self.in_progress:
            return self._error(400, 9, "another operation is already in progress")
        app.revision = str(body.get("revision") or "HEAD")
        app.sync, app.health, app.phase = "OutOfSync", app.health, "Running"
        app.steps = list(app.script)
        return 200, app.document()
