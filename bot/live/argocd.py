"""The `argocd` deploy target: promote to the environment branch, then sync through Argo CD.

After the environment commit is pushed (see bot.live.gitbranch), the bot asks Argo CD's
API to sync the named Application to exactly that revision
(`POST /api/v1/applications/{name}/sync`) and polls `GET /api/v1/applications/{name}`
until `status.sync` is Synced at that revision and `status.health` is Healthy. Degraded,
a failed sync operation or the deadline passing is a failure that lists the resources Argo
CD reports as not synced or not healthy. The token goes only into the Authorization
header; it is never logged or put in an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from bot.config import Secret
from bot.errors import ConfigError, Transient, UserError
from bot.live.base import DeployOutcome, DeploySource
from bot.live.gitbranch import GitBranch
from bot.model import Manifest, ObjKey, Target
from bot.redact import redact

IN_PROGRESS = "another operation is already in progress"
FAILED_PHASES = ("Failed", "Error")


class ArgoCDClient:
    """The Argo CD API calls the bot makes, with timeouts and a bearer token."""

    def __init__(
        self,
        server: str,
        token: Secret,
        *,
        timeout: tuple[float, float] = (5, 30),
        verify: bool | str = True,
        session: requests.Session | None = None,
    ) -> None:
        self.server, self._token, self.timeout = server.rstrip("/"), token, timeout
        self.verify, self.session = verify, session or requests.Session()

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        url = f"{self.server}/api/v1/applications/{path}"
        try:
            response = self.session.request(
                method,
                url,
                json=body,
                timeout=self.timeout,
                verify=self.verify,
                headers={
                    "Authorization": f"Bearer {self._token.reveal()}",
                    "Accept": "application/json",
                },
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise Transient(redact(f"Argo CD unreachable: {type(exc).__name__}")) from None
        try:
            doc = response.json()
        except ValueError:
            doc = {}
        message = redact(str(doc.get("message") or doc.get("error") or response.reason))[:500]
        if response.status_code in (401, 403):
            raise ConfigError(f"Argo CD refused the token ({response.status_code}): {message}")
        if response.status_code == 404:
            raise UserError(f"Argo CD application not found: {message}")
        if response.status_code >= 500 or response.status_code == 429 or IN_PROGRESS in message:
            raise Transient(f"Argo CD answered {response.status_code}: {message}")
        if response.status_code >= 400:
            raise UserError(f"Argo CD answered {response.status_code}: {message}")
        return doc if isinstance(doc, dict) else {}

    def get(self, name: str) -> dict[str, Any]:
        """The Application `name`."""
        return self._call("GET", quote(name, safe=""))

    def managed_resources(self, name: str, app_namespace: str = "") -> list[dict[str, Any]]:
        """`GET /api/v1/applications/{name}/managed-resources`: Argo CD's live and target
        state of every resource the Application manages (ResourceDiff items)."""
        query = f"?appNamespace={quote(app_namespace, safe='')}" if app_namespace else ""
        doc = self._call("GET", f"{quote(name, safe='')}/managed-resources{query}")
        items = doc.get("items")
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def sync(self, name: str, revision: str, prune: bool) -> dict[str, Any]:
        """Ask Argo CD to sync `name` to `revision`."""
        return self._call(
            "POST",
            f"{quote(name, safe='')}/sync",
            {"name": name, "revision": revision, "prune": prune, "dryRun": False},
        )


@dataclass(frozen=True)
class AppStatus:
    """The parts of an Application's status the bot waits on."""

    sync: str
    revision: str
    health: str
    phase: str
    message: str
    resources: tuple[tuple[ObjKey, str, str, str], ...]  # key, sync, health, message

    @staticmethod
    def of(app: Mapping[str, Any]) -> AppStatus:
        """Read the status of an Application document."""
        status = app.get("status") or {}
        op = status.get("operationState") or {}
        resources = []
        for r in status.get("resources") or []:
            health = r.get("health") or {}
            resources.append(
                (
                    ObjKey(
                        str(r.get("group") or ""),
                        str(r.get("kind") or ""),
                        str(r.get("namespace") or ""),
                        str(r.get("name") or ""),
                    ),
                    str(r.get("status") or ""),
                    str(health.get("status") or ""),
                    str(health.get("message") or ""),
                )
            )
        return AppStatus(
            sync=str((status.get("sync") or {}).get("status") or "Unknown"),
            revision=str((status.get("sync") or {}).get("revision") or ""),
            health=str((status.get("health") or {}).get("status") or "Unknown"),
            phase=str(op.get("phase") or ""),
            message=redact(
                str(op.get("message") or (status.get("health") or {}).get("message") or "")
            )[:500],
            resources=tuple(resources),
        )

    def describe(self) -> str:
        text = f"sync {self.sync} at {self.revision[:12] or '?'}, health {self.health}"
        text += f", operation {self.phase}" if self.phase else ""
        return text + (f": {self.message}" if self.message else "")


def verdict(status: AppStatus, revision: str) -> bool | None:
    """True when synced to `revision` and healthy, False when that failed, None to wait."""
    if status.sync == "Synced" and status.revision == revision and status.health == "Healthy":
        return True
    if status.revision == revision and (
        status.health == "Degraded" or status.phase in FAILED_PHASES
    ):
        return False
    return None


class ArgoCD:
    """Deployer (and LiveState, the environment branch) for one Argo CD Application."""

    def __init__(
        self,
        git: GitBranch,
        client: ArgoCDClient,
        application: str,
        *,
        timeout: float = 600.0,
        interval: float = 5.0,
        prune: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.git, self.client, self.application = git, client, application
        self.timeout, self.interval, self.prune = timeout, interval, prune
        self.clock, self.sleep = clock, sleep

    def read(
        self,
        targets: Sequence[Target],
        desired: Mapping[str, Sequence[Manifest]] | None = None,
    ) -> dict[str, list[Manifest]]:
        """What Argo CD is told to run: the environment branch."""
        return self.git.read(targets, desired)

    def deploy(
        self, rendered: Mapping[Target, Sequence[Manifest]], source: DeploySource
    ) -> DeployOutcome:
        """Promote, sync that revision, wait until Synced and Healthy (bounded)."""
        promoted = self.git.deploy(rendered, source)
        revision = promoted.revision
        if revision is None:
            return promoted  # nothing on the branch yet and nothing rendered
        try:
            self.client.sync(self.application, revision, self.prune)
        except Transient as exc:
            if IN_PROGRESS not in str(exc):
                raise
        deadline = self.clock() + self.timeout
        while True:
            status = AppStatus.of(self.client.get(self.application))
            done = verdict(status, revision)
            if done is True:
                return promoted
            if done is False or self.clock() >= deadline:
                why = "timed out waiting; last status: " if done is None else ""
                return self._failed(promoted, rendered, status, why + status.describe())
            self.sleep(self.interval)

    def _failed(
        self,
        promoted: DeployOutcome,
        rendered: Mapping[Target, Sequence[Manifest]],
        status: AppStatus,
        why: str,
    ) -> DeployOutcome:
        bad = tuple(
            (key, f"{sync}/{health}" + (f": {msg}" if msg else ""))
            for key, sync, health, msg in status.resources
            if sync not in ("Synced", "") or health not in ("Healthy", "")
        )
        if not bad:
            bad = tuple((m.key, why) for ms in rendered.values() for m in ms)
        failed_keys = {k for k, _ in bad}
        return DeployOutcome(
            applied=tuple(k for k in promoted.applied if k not in failed_keys),
            pruned=promoted.pruned,
            failed=bad,
            revision=promoted.revision,
            unchanged=tuple(k for k in promoted.unchanged if k not in failed_keys),
            message=f"Argo CD application {self.application}: {why}",
        )
