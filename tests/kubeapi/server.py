"""A Kubernetes API test server on 127.0.0.1 that the real kubectl talks to.

There is no Kubernetes API server on these machines, so this one speaks the subset of the
protocol gitops-bot's kubectl calls use: legacy discovery, a minimal OpenAPI v3 (enough for
kubectl to validate server-side), GET/LIST with label and field selectors, server-side apply
(PATCH `application/apply-patch+yaml`, `fieldManager`, `force`, 409 on conflicts), DELETE,
namespaced and cluster-scoped kinds, CRDs that add kinds. The server sets uid,
resourceVersion, creationTimestamp, generation, managedFields, a few defaults and a
Deployment status. Test hooks change objects behind the bot's back (`update`), make one
object's apply fail (`reject`), and stop answering (`stop`: connection refused).
"""

from __future__ import annotations

import base64
import copy
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.kubeapi import resources as res
from tests.kubeapi import ssa
from tests.loopback import json_reply, serve, shutdown

APPLY_TYPE = "application/apply-patch+yaml"


@dataclass
class Stored:
    """An object and who owns which of its fields."""

    body: dict[str, Any]
    owners: dict[str, dict[str, Any]] = field(default_factory=dict)  # manager -> entry


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    status: int = 0


class ApiError(Exception):
    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def _status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 300 else "Success",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        out["details"] = details
    return out


def _terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += ch
    return [t for t in [*terms, current.strip()] if t]


def _selector_match(labels: dict[str, str], selector: str) -> bool:
    for term in _terms(selector):
        if " in (" in term or " notin (" in term:
            key, op, rest = term.split(" ", 2)
            values = {v.strip() for v in rest.strip().strip("()").split(",")}
            if (labels.get(key) in values) != (op == "in"):
                return False
        elif "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.split("==", 1) if "==" in term else term.split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class KubeAPIServer:
    """In-memory API server; `kubeconfig()` writes a kubeconfig pointing at it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.objects: dict[tuple[str, str, str, str], Stored] = {}
        self.crd_kinds: dict[str, list[res.Resource]] = {}
        self.requests: list[Request] = []
        self.rejections: dict[tuple[str, str], tuple[int, str]] = {}
        # called with each object written (under the lock): a stand-in controller may set
        # its status, as Flux's do after a reconcile request
        self.on_write: list[Callable[[dict[str, Any]], None]] = []
        self._rv = 100
        self._httpd: ThreadingHTTPServer | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> KubeAPIServer:
        """Listen on 127.0.0.1 (the same port again after a `stop`)."""
        self._httpd = serve(
            lambda method, target, headers, raw: json_reply(
                *self.handle(method, target, headers.get("Content-Type", ""), raw)
            ),
            self.port,
        )
        self.port = self._httpd.server_address[1]
        return self

    def stop(self) -> None:
        """Stop answering: new connections are refused."""
        shutdown(self._httpd)
        self._httpd = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kubeconfig(
        self, path: Any, context: str = "test", extra_user: dict[str, Any] | None = None
    ) -> Any:
        """Write a kubeconfig for this server (token auth) and return its path."""
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [
                {"name": "bot", "user": {"token": "kube-token-not-a-secret", **(extra_user or {})}}
            ],
            "contexts": [{"name": context, "context": {"cluster": "test", "user": "bot"}}],
        }
        path.write_text(yaml.safe_dump(doc))
        return path

    # -- test hooks -----------------------------------------------------------------------
    def reject(
        self, kind: str, name: str, code: int = 422, message: str = "spec: Invalid value: rejected"
    ) -> None:
        """Answer every apply of `kind`/`name` with an Invalid error; `message` is
        `<field>: <detail>`, as in the API server's field errors."""
        self.rejections[(kind, name)] = (code, message)

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        """The stored object as the API returns it, or None."""
        with self.lock:
            for (group, plural, ns, n), obj in self.objects.items():
                if obj.body["kind"] == kind and n == name and ns == namespace:
                    return self._render(obj)
        return None

    def all(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._render(o) for o in self.objects.values()]

    def update(
        self,
        kind: str,
        name: str,
        namespace: str,
        change: Callable[[dict[str, Any]], None],
        manager: str = "kubectl-edit",
    ) -> None:
        """Change an object behind the bot's back (an Update by `manager`)."""
        with self.lock:
            key = next(
                k
                for k, o in self.objects.items()
                if o.body["kind"] == kind and k[3] == name and k[2] == namespace
            )
            obj = self.objects[key]
            before = ssa.tracked(obj.body)
            change(obj.body)
            after = ssa.tracked(obj.body)
            changed = {p for p in after if before.get(p, object()) != after[p]}
            for entry in obj.owners.values():
                entry["paths"] = {p for p in entry["paths"] - changed if p in after}
            entry = obj.owners.setdefault(
                manager,
                {"operation": "Update", "paths": set(), "apiVersion": obj.body["apiVersion"]},
            )
            entry["paths"] |= changed
            entry["time"] = self._now()
            self._bump(obj, spec_changed=True)

    def create_unmanaged(self, body: dict[str, Any], manager: str = "kubectl-create") -> None:
        """Create an object the way another tool would (an Update, not the bot's apply)."""
        resource = self._resource_for(body)
        ns = body["metadata"].get("namespace", "") if resource.namespaced else ""
        with self.lock:
            obj = Stored(copy.deepcopy(body))
            self._init(obj)
            obj.owners[manager] = {
                "operation": "Update",
                "paths": set(ssa.tracked(obj.body)),
                "apiVersion": body["apiVersion"],
                "time": self._now(),
            }
            self.objects[(resource.group, resource.plural, ns, body["metadata"]["name"])] = obj
            self._after_write(resource, obj)

    def calls(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.method == method]

    # -- internals ------------------------------------------------------------------------
    def _now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def _resources(self) -> list[res.Resource]:
        out = list(res.BUILTIN)
        for served in self.crd_kinds.values():
            out += served
        return out

    def _resource_for(self, body: dict[str, Any]) -> res.Resource:
        api = body.get("apiVersion", "")
        group, _, version = api.rpartition("/")
        for r in self._resources():
            if r.group == group and r.version == version and r.kind == body.get("kind"):
                return r
        raise ApiError(404, "NotFound", f"no kind {body.get('kind')} in {api}")

    def _init(self, obj: Stored) -> None:
        meta = obj.body.setdefault("metadata", {})
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self._now()
        meta["generation"] = 0
        self._defaults(obj.body)
        self._bump(obj, spec_changed=True)

    def _defaults(self, body: dict[str, Any]) -> None:
        if body.get("kind") == "Secret" and isinstance(body.get("stringData"), dict):
            data = body.setdefault("data", {})
            for k, v in body.pop("stringData").items():  # write-only, folded into data
                data[k] = base64.b64encode(str(v).encode()).decode()
        spec = body.get("spec")
        if body.get("kind") == "Deployment" and isinstance(spec, dict):
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
        if body.get("kind") == "Service" and isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            spec.setdefault("clusterIP", "10.96.0.10")

    def _bump(self, obj: Stored, spec_changed: bool) -> None:
        self._rv += 1
        meta = obj.body["metadata"]
        meta["resourceVersion"] = str(self._rv)
        if spec_changed:
            meta["generation"] = int(meta.get("generation") or 0) + 1
        if obj.body.get("kind") == "Deployment":
            replicas = (obj.body.get("spec") or {}).get("replicas", 1)
            obj.body["status"] = {
                "observedGeneration": meta["generation"],
                "replicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "updatedReplicas": replicas,
                "conditions": [{"type": "Available", "status": "True"}],
            }

    def _render(self, obj: Stored) -> dict[str, Any]:
        body = copy.deepcopy(obj.body)
        body["metadata"]["managedFields"] = [
            {
                "manager": m,
                "operation": e["operation"],
                "apiVersion": e["apiVersion"],
                "time": e.get("time", ""),
                "fieldsType": "FieldsV1",
                "fieldsV1": ssa.fields_v1(e["paths"]),
            }
            for m, e in sorted(obj.owners.items())
            if e["paths"]
        ]
        return body

    def _route(self, path: str) -> tuple[res.Resource, str, str | None]:
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", f"the server could not find {path}")
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            raise ApiError(404, "NotFound", f"the server could not find {path}")
        for r in self._resources():
            if r.group == group and r.version == version and r.plural == rest[0]:
                return r, namespace, rest[1] if len(rest) == 2 else None
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def handle(self, method: str, target: str, content_type: str, raw: bytes) -> tuple[int, Any]:
        split = urlsplit(target)
        query = parse_qs(split.query)
        record = Request(method, split.path, query, content_type)
        self.requests.append(record)
        with self.lock:
            try:
                code, body = self._dispatch(method, split.path, query, content_type, raw)
            except ApiError as exc:
                code, body = exc.code, _status(exc.code, exc.reason, exc.message, exc.details)
        record.status = code
        return code, body

    def _dispatch(
        self, method: str, path: str, query: dict[str, list[str]], content_type: str, raw: bytes
    ) -> tuple[int, Any]:
        resources = self._resources()
        if method == "GET":
            doc: Any = None
            if path == "/version":
                doc = {
                    "major": "1",
                    "minor": "35",
                    "gitVersion": "v1.35.0-gitops-bot-test",
                    "platform": "linux/amd64",
                }
            elif path == "/api":
                doc = res.api_versions(self.port)
            elif path == "/apis":
                doc = res.group_list(resources)
            elif path == "/openapi/v3":
                doc = res.openapi_root(resources)
            elif path.startswith("/openapi/v3/"):
                gv = path.removeprefix("/openapi/v3/").removeprefix("api/").removeprefix("apis/")
                doc = res.openapi_group(gv, resources)
            elif path == "/api/v1" or (path.startswith("/apis/") and path.count("/") == 3):
                gv = path.removeprefix("/api/").removeprefix("/apis/")
                doc = res.resource_list(gv, resources)
            elif path.startswith("/openapi/"):
                raise ApiError(404, "NotFound", "not served")
            if doc is not None:
                return 200, doc
        resource, namespace, name = self._route(path)
        key = (resource.group, resource.plural, namespace if resource.namespaced else "")
        if method == "GET" and name is None:
            return 200, self._list(resource, namespace, query)
        if name is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} on a collection")
        stored = self.objects.get((*key, name))
        if method == "GET":
            if stored is None:
                raise self._not_found(resource, name)
            return 200, self._render(stored)
        if method == "DELETE":
            if stored is None:
                raise self._not_found(resource, name)
            del self.objects[(*key, name)]
            if resource.kind == "CustomResourceDefinition":
                self.crd_kinds.pop(name, None)
            return 200, _status(
                200,
                "",
                "",
                {"name": name, "kind": resource.plural, "uid": stored.body["metadata"]["uid"]},
            )
        if method == "PATCH":
            return self._apply(resource, namespace, name, stored, query, content_type, raw)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    def _not_found(self, resource: res.Resource, name: str) -> ApiError:
        return ApiError(
            404,
            "NotFound",
            f'{resource.plural} "{name}" not found',
            {"name": name, "kind": resource.plural},
        )

    def _list(
        self, resource: res.Resource, namespace: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        labels = (query.get("labelSelector") or [""])[0]
        fields = dict(
            t.split("=", 1) for t in (query.get("fieldSelector") or [""])[0].split(",") if "=" in t
        )
        items = []
        for (group, plural, ns, name), obj in sorted(self.objects.items()):
            if (group, plural) != (resource.group, resource.plural):
                continue
            if namespace and ns != namespace:
                continue
            if not _selector_match(obj.body["metadata"].get("labels") or {}, labels):
                continue
            if fields.get("metadata.name", name) != name:
                continue
            items.append(self._render(obj))
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.group_version,
            "metadata": {"resourceVersion": str(self._rv)},
            "items": items,
        }

    def _apply(
        self,
        resource: res.Resource,
        namespace: str,
        name: str,
        stored: Stored | None,
        query: dict[str, list[str]],
        content_type: str,
        raw: bytes,
    ) -> tuple[int, Any]:
        if content_type.split(";")[0].strip() != APPLY_TYPE:
            raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {content_type}")
        manager = (query.get("fieldManager") or [""])[0]
        if not manager:
            raise ApiError(422, "Invalid", "fieldManager is required for apply requests")
        force = (query.get("force") or ["false"])[0] == "true"
        applied = yaml.safe_load(raw)
        if not isinstance(applied, dict):
            raise ApiError(400, "BadRequest", "apply patch is not an object")
        meta = applied.get("metadata") or {}
        if applied.get("kind") != resource.kind or meta.get("name") != name:
            raise ApiError(400, "BadRequest", "kind or name does not match the URL")
        if resource.namespaced and meta.get("namespace", namespace) != namespace:
            raise ApiError(400, "BadRequest", "the namespace does not match the URL")
        if resource.namespaced and ("", "namespaces", "", namespace) not in self.objects:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        if (resource.kind, name) in self.rejections:
            code, message = self.rejections[(resource.kind, name)]
            field_path, _, detail = message.partition(": ")
            raise ApiError(
                code,
                "Invalid",
                f'{resource.kind} "{name}" is invalid: {message}',
                {
                    "name": name,
                    "kind": resource.kind,
                    "causes": [
                        {
                            "reason": "FieldValueInvalid",
                            "message": detail or message,
                            "field": field_path,
                        }
                    ],
                },
            )
        new_paths = ssa.tracked(applied)
        if stored is None:
            obj = Stored(copy.deepcopy(applied))
            if resource.namespaced:
                obj.body["metadata"].setdefault("namespace", namespace)
            self._init(obj)
            obj.owners[manager] = {
                "operation": "Apply",
                "paths": set(new_paths),
                "apiVersion": applied["apiVersion"],
                "time": self._now(),
            }
            self.objects[(resource.group, resource.plural, namespace, name)] = obj
            self._after_write(resource, obj)
            return 201, self._render(obj)
        live = ssa.tracked(stored.body)
        changed = {p for p, v in new_paths.items() if live.get(p, object()) != v}
        conflicts = sorted(
            (m, p) for m, e in stored.owners.items() if m != manager for p in e["paths"] & changed
        )
        if conflicts and not force:
            text = ", ".join(
                f'conflict with "{m}": .{".".join(s[2:] for s in p)}' for m, p in conflicts
            )
            raise ApiError(
                409,
                "Conflict",
                f"Apply failed with {len(conflicts)} conflict(s): {text}",
                {
                    "causes": [
                        {
                            "reason": "FieldManagerConflict",
                            "message": f'conflict with "{m}"',
                            "field": "." + ".".join(s[2:] for s in p),
                        }
                        for m, p in conflicts
                    ]
                },
            )
        body = ssa.merge(stored.body, {k: v for k, v in applied.items() if k != "status"})
        mine = stored.owners.get(manager, {}).get("paths", set())
        others = set().union(*[e["paths"] for m, e in stored.owners.items() if m != manager])
        for path in mine - set(new_paths) - others:
            ssa.remove(body, path)
        owners = copy.deepcopy(stored.owners)
        for m, e in owners.items():
            if m != manager:
                e["paths"] -= changed
        entry = owners.setdefault(
            manager, {"operation": "Apply", "apiVersion": applied["apiVersion"]}
        )
        entry["paths"] = set(new_paths)
        self._defaults(body)
        if body == stored.body and {m: e["paths"] for m, e in owners.items()} == {
            m: e["paths"] for m, e in stored.owners.items()
        }:
            return 200, self._render(stored)  # no-op: nothing written, no new resourceVersion
        entry["time"] = self._now()
        spec_changed = {k: v for k, v in body.items() if k not in ("metadata", "status")} != {
            k: v for k, v in stored.body.items() if k not in ("metadata", "status")
        }
        stored.body, stored.owners = body, owners
        self._bump(stored, spec_changed)
        self._after_write(resource, stored)
        return 200, self._render(stored)

    def _after_write(self, resource: res.Resource, obj: Stored) -> None:
        if resource.kind == "CustomResourceDefinition":
            self.crd_kinds[obj.body["metadata"]["name"]] = res.crd_resources(obj.body)
        for hook in self.on_write:
            hook(obj.body)
