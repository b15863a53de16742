"""The `git` deploy target with Flux: promote to the environment branch, then have Flux
reconcile now instead of at its next interval, and report whether it became Ready.

After the push, the bot sets the annotation `reconcile.fluxcd.io/requestedAt` (what `flux
reconcile` sets) on the environment's GitRepository and Kustomizations, through its own
kubeconfig context (a server-side apply of that one annotation, field manager
`gitops-bot-reconcile`), and polls each Kustomization until it has handled that request:
Ready=True at the promoted commit is success; Ready=False (a build, validation or health
failure) or the deadline passing is a failure that quotes Flux's condition message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bot.live.base import DeployOutcome, DeploySource, LiveUnavailable
from bot.live.gitbranch import GitBranch
from bot.live.kubectl import Kubectl, unreachable
from bot.model import Manifest, ObjKey, Target
from bot.redact import redact
from bot.repo.repo_config import FluxReconcile

REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
MANAGER = "gitops-bot-reconcile"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"


@dataclass(frozen=True)
class Readiness:
    """A Kustomization's reconcile status as far as the bot waits on it."""

    handled: str  # status.lastHandledReconcileAt
    ready: str  # Ready condition status: True | False | Unknown
    reason: str
    message: str
    revision: str  # status.lastAppliedRevision

    @staticmethod
    def of(body: Mapping[str, Any]) -> Readiness:
        status = body.get("status") if isinstance(body.get("status"), Mapping) else {}
        ready = next(
            (
                c
                for c in status.get("conditions") or []  # type: ignore[union-attr]
                if isinstance(c, Mapping) and c.get("type") == "Ready"
            ),
            {},
        )
        return Readiness(
            str(status.get("lastHandledReconcileAt") or ""),  # type: ignore
            str(ready.get("status") or "Unknown"),
            str(ready.get("reason") or ""),
            redact(str(ready.get("message") or ""))[:500],
            str(status.get("lastAppliedRevision") or ""),  # type: ignore[union-attr]
        )


def verdict(state: Readiness, requested: str, revision: str) -> bool | None:
    """True when the request was handled and Ready at `revision`, False when it failed,
    None to keep waiting."""
    if state.handled != requested:
        return None
    if state.ready == "True" and state.revision.endswith(revision):
        return True
    if state.ready == "False" and state.reason != "Progressing":
        return False
    return None


class FluxGit:
    """Deployer (and LiveState, the environment branch) that also asks Flux to reconcile."""

    def __init__(
        self,
        git: GitBranch,
        kubectl: Kubectl,
        settings: FluxReconcile,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.git, self.kubectl, self.settings = git, kubectl, settings
        self.interval, self.clock, self.sleep, self.now = interval, clock, sleep, now

    def read(
        self,
        targets: Sequence[Target],
        desired: Mapping[str, Sequence[Manifest]] | None = None,
    ) -> dict[str, list[Manifest]]:
        """What Flux is told to run: the environment branch."""
        return self.git.read(targets, desired)

    def _kubectl(self, args: list[str], stdin: bytes | None = None) -> dict[str, Any]:
        done = self.kubectl.run(args, stdin=stdin)
        err = redact(done.stderr.decode("utf-8", "replace")).strip()
        if done.returncode != 0:
            what = "API server unreachable" if unreachable(err) else err[-500:]
            raise LiveUnavailable(f"Flux reconcile through context {self.kubectl.context}: {what}")
        text = done.stdout.decode("utf-8", "replace").strip()
        doc = json.loads(text) if text.startswith("{") else {}
        return doc if isinstance(doc, dict) else {}

    def request(self, api: str, kind: str, ref: str, stamp: str) -> None:
        """Set `reconcile.fluxcd.io/requestedAt` on one object (server-side apply)."""
        namespace, _, name = ref.partition("/")
        body = {
            "apiVersion": api,
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": {REQUESTED_AT: stamp},
            },
        }
        self._kubectl(
            [
                "apply",
                "--server-side",
                f"--field-manager={MANAGER}",
                "--force-conflicts",
                "-o",
                "json",
                "-f",
                "-",
            ],
            stdin=json.dumps(body).encode(),
        )

    def status(self, ref: str) -> Readiness:
        namespace, _, name = ref.partition("/")
        return Readiness.of(
            self._kubectl(
                [
                    "get",
                    "kustomizations.kustomize.toolkit.fluxcd.io",
                    "-n",
                    namespace,
                    name,
                    "-o",
                    "json",
                ]
            )
        )

    def deploy(
        self, rendered: Mapping[Target, Sequence[Manifest]], source: DeploySource
    ) -> DeployOutcome:
        """Promote, request a reconcile, wait until every Kustomization is Ready (bounded)."""
        promoted = self.git.deploy(rendered, source)
        if promoted.revision is None:
            return promoted
        stamp = self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.request(SOURCE_API, "GitRepository", self.settings.source, stamp)
        for ref in self.settings.kustomizations:
            self.request(KUSTOMIZE_API, "Kustomization", ref, stamp)
        deadline = self.clock() + self.settings.timeout
        waiting = list(self.settings.kustomizations)
        while True:
            states = {ref: self.status(ref) for ref in waiting}
            done = {ref: verdict(s, stamp, promoted.revision) for ref, s in states.items()}
            failed = [ref for ref, v in done.items() if v is False]
            waiting = [ref for ref, v in done.items() if v is None]
            if failed or not waiting or self.clock() >= deadline:
                bad = failed or waiting
                if not bad:
                    return DeployOutcome(
                        promoted.applied,
                        promoted.pruned,
                        (),
                        revision=promoted.revision,
                        unchanged=promoted.unchanged,
                        message=f"Flux Kustomizations Ready at {promoted.revision[:12]}",
                    )
                return self._failed(
                    promoted, rendered, {r: states[r] for r in bad}, timed_out=not failed
                )
            self.sleep(self.interval)

    def _failed(
        self,
        promoted: DeployOutcome,
        rendered: Mapping[Target, Sequence[Manifest]],
        states: Mapping[str, Readiness],
        timed_out: bool,
    ) -> DeployOutcome:
        why = "; ".join(
            f"Kustomization {ref}: "
            + ("timed out waiting for Ready; last: " if timed_out else "")
            + f"Ready={s.ready} {s.reason}"
            + (f": {s.message}" if s.message else "")
            for ref, s in states.items()
        )
        keys: list[ObjKey] = [m.key for ms in rendered.values() for m in ms]
        return DeployOutcome(
            applied=(),
            pruned=(),
            failed=tuple((k, why) for k in keys),
            revision=promoted.revision,
            message=f"Flux: {why}",
        )
