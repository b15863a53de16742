"""The `kubernetes` deploy target: push mode with kubectl server-side apply, and live read.

Objects get the ownership labels (`gitops-bot.dev/target: <app>.<env>`, and
`app.kubernetes.io/managed-by: gitops-bot` unless the render sets one) and are applied in
waves (Namespaces and CRDs, then config/RBAC/services, then workloads and custom
resources) with `--field-manager=gitops-bot --force-conflicts=false`; a failed wave stops
the later ones. Prune deletes, by kind and name, the objects the live read found carrying
this target's label that left the render. That is chosen over `kubectl apply --prune -l`:
the bot decides from the same read it reports, it sees every kind the server lists (not
`--prune`'s default allowlist), the selector does not also filter what gets applied, and
nothing is pruned after a failed apply. Namespaces and CRDs are never pruned (deleting
them deletes everything inside, managed or not).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.errors import UserError
from bot.live import applyplan as plan
from bot.live.base import (
    DeployOutcome,
    DeploySource,
    EmptyRenderRefused,
    LiveUnavailable,
    as_stored,
    drift,
)
from bot.live.fields import FIELD_MANAGER, TARGET_LABEL, project, target_label, with_labels
from bot.live.kubectl import Kubectl, unreachable
from bot.live.layout import deployable
from bot.model import DiffStatus, Manifest, ObjKey, Target
from bot.redact import redact
from bot.secrets import secret_values
from bot.tools import find_tool

SKIP_KINDS = {("", "Event"), ("events.k8s.io", "Event")}
Scopes = dict[tuple[str, str], tuple[str, bool]]  # (group, kind) -> (resource, namespaced)


def _stream(bodies: Sequence[Mapping[str, Any]]) -> bytes:
    return "\n---\n".join(json.dumps(b) for b in bodies).encode()


def _ident(m: Manifest) -> dict[str, Any]:
    meta = {"name": m.key.name, **({"namespace": m.key.namespace} if m.key.namespace else {})}
    return {"apiVersion": m.api_version, "kind": m.kind, "metadata": meta}


def _label(body: Mapping[str, Any]) -> str | None:
    value = ((body.get("metadata") or {}).get("labels") or {}).get(TARGET_LABEL)
    return value if isinstance(value, str) else None


class Kubernetes:
    """Deployer and LiveState for one context of the bot's own kubeconfig."""

    def __init__(
        self,
        kubeconfig: Path,
        context: str,
        *,
        namespace: str | None = None,
        kubectl: str | None = None,
        kinds: Sequence[str] | None = None,
        allow_empty: bool = False,
        timeout: float = 120.0,
    ) -> None:
        self.kubectl = Kubectl(
            kubeconfig, context, binary=kubectl or find_tool("kubectl"), timeout=timeout
        )
        self.context, self.namespace, self.kinds = context, namespace, kinds
        self.allow_empty = allow_empty

    # -- kubectl calls --------------------------------------------------------------------
    def _query(self, args: Sequence[str], stdin: bytes | None = None) -> list[dict[str, Any]]:
        done = self.kubectl.run(args, stdin=stdin)
        err = redact(done.stderr.decode("utf-8", "replace")).strip()
        if done.returncode != 0:
            what = "API server unreachable" if unreachable(err) else err[-1000:]
            raise LiveUnavailable(f"context {self.context}: {what}")
        text = done.stdout.decode("utf-8", "replace").strip()
        doc = json.loads(text) if text else {}
        if doc.get("kind") == "List" or "items" in doc:
            return [i for i in doc.get("items") or [] if isinstance(i, dict)]
        return [doc] if doc else []

    def _scopes(self) -> Scopes:
        done = self._query(["api-resources", "-o", "json"])
        out: Scopes = {}
        for doc in done:
            for r in doc.get("resources") or [doc]:
                group, kind = str(r.get("group") or ""), str(r.get("kind") or "")
                name = str(r.get("name") or "") + (f".{group}" if group else "")
                if "/" not in name and {"list", "delete"} <= set(r.get("verbs") or ()):
                    out.setdefault((group, kind), (name, bool(r.get("namespaced"))))
        return out

    def _place(
        self, target: Target, manifests: Sequence[Manifest], scopes: Scopes
    ) -> list[Manifest]:
        """Namespaced objects without a namespace go to the target's (or configured) one."""
        default = target.namespace or self.namespace or "default"
        crds = plan.crd_scopes(manifests)
        out = []
        for m in manifests:
            key = (m.key.group, m.key.kind)
            namespaced = scopes[key][1] if key in scopes else crds.get(key, False)
            body = plan.with_namespace(m.body, default) if namespaced else m.body
            out.append(Manifest(body, m.file, m.line))
        return out

    def _live(
        self, targets: Sequence[Target], placed: Mapping[str, Sequence[Manifest]], scopes: Scopes
    ) -> dict[str, dict[ObjKey, dict[str, Any]]]:
        """target.id -> raw live objects: those labelled for it plus those its render names."""
        labels = {target_label(t.app, t.environment): t.id for t in targets}
        out: dict[str, dict[ObjKey, dict[str, Any]]] = {t.id: {} for t in targets}
        kinds = (
            list(self.kinds)
            if self.kinds is not None
            else sorted(name for key, (name, _) in scopes.items() if key not in SKIP_KINDS)
        )
        if kinds and labels:
            selector = f"{TARGET_LABEL} in ({','.join(sorted(labels))})"
            for body in self._query(
                [
                    "get",
                    ",".join(kinds),
                    "--all-namespaces",
                    "-l",
                    selector,
                    "-o",
                    "json",
                    "--show-managed-fields",
                ]
            ):
                tid = labels.get(_label(body) or "")
                if tid:
                    out[tid][ObjKey.of(body)] = body
        named = {
            m.key: tid
            for tid, ms in placed.items()
            for m in ms
            if (m.key.group, m.key.kind) in scopes
        }
        if named:
            idents = [_ident(m) for ms in placed.values() for m in ms if m.key in named]
            for body in self._query(
                ["get", "-f", "-", "-o", "json", "--show-managed-fields", "--ignore-not-found"],
                stdin=_stream(idents),
            ):
                key = ObjKey.of(body)
                if key in named:
                    out[named[key]][key] = body
        return out

    # -- LiveState ------------------------------------------------------------------------
    def read(
        self,
        targets: Sequence[Target],
        desired: Mapping[str, Sequence[Manifest]] | None = None,
    ) -> dict[str, list[Manifest]]:
        """target.id -> live objects, reduced to what the render sets or the bot owns."""
        scopes = self._scopes()
        given = desired or {}
        placed = {t.id: self._place(t, given.get(t.id, ()), scopes) for t in targets}
        raw = self._live(targets, placed, scopes)
        out: dict[str, list[Manifest]] = {}
        for t in targets:
            origin = {p.key: o for p, o in zip(placed[t.id], given.get(t.id, ()), strict=True)}
            items = []
            for key, body in raw[t.id].items():
                want = origin.get(key)
                live = project(body, as_stored(want.body) if want else None)
                if want is not None and not want.key.namespace:
                    live["metadata"].pop("namespace", None)  # compare like with like
                items.append(Manifest(live, file=f"live:{self.context}"))
            out[t.id] = sorted(items, key=lambda m: m.key)
        return out

    # -- Deployer -------------------------------------------------------------------------
    def deploy(
        self, rendered: Mapping[Target, Sequence[Manifest]], source: DeploySource
    ) -> DeployOutcome:
        """Apply each target's objects in waves, then prune; one outcome for all targets."""
        scopes = self._scopes()
        placed = {t: self._place(t, ms, scopes) for t, ms in rendered.items()}
        raw = self._live(list(rendered), {t.id: ms for t, ms in placed.items()}, scopes)
        parts = [self._deploy_one(t, placed[t], raw[t.id]) for t in rendered]
        return DeployOutcome(
            applied=tuple(k for p in parts for k in p.applied),
            pruned=tuple(k for p in parts for k in p.pruned),
            failed=tuple(f for p in parts for f in p.failed),
            not_attempted=tuple(k for p in parts for k in p.not_attempted),
            unchanged=tuple(k for p in parts for k in p.unchanged),
            message="; ".join(p.message for p in parts if p.message),
        )

    def _deploy_one(
        self, target: Target, manifests: Sequence[Manifest], live: Mapping[ObjKey, dict[str, Any]]
    ) -> DeployOutcome:
        try:
            label = target_label(target.app, target.environment)
        except ValueError as exc:
            raise UserError(f"target {target.id}: {exc}") from None
        mine = [Manifest(b) for b in live.values() if _label(b) == label]
        if not manifests and mine and not self.allow_empty:
            raise EmptyRenderRefused(
                f"{target.id} rendered no objects but {len(mine)} live "
                "objects carry its label; refusing to prune them all"
            )
        secrets = secret_values(manifests)
        failed: list[tuple[ObjKey, str]] = []
        apply: list[Manifest] = []
        for m in manifests:
            owner = _label(live[m.key]) if m.key in live else None
            if owner and owner != label:
                failed.append((m.key, f"owned by target {owner}; not applied"))
            else:
                apply.append(Manifest(with_labels(deployable(m.body), label), m.file, m.line))
        current = {
            target.id: [
                Manifest(project(b, as_stored(m.body)))
                for m in manifests
                if (b := live.get(m.key)) is not None
            ]
        }
        changed = {
            d.key
            for d in drift({target.id: manifests}, current)[target.id]
            if d.status in (DiffStatus.CREATED, DiffStatus.CHANGED)
        }
        done, not_attempted = self._apply(apply, secrets, failed)
        choice = plan.prune_candidates(mine, [m.key for m in manifests], label)
        pruned: set[ObjKey] = set()
        if choice.delete and (failed or not_attempted):
            not_attempted += [m.key for m in choice.delete]
        elif choice.delete:
            pruned = self._delete(choice.delete, failed)
        kept = f"kept (prune by hand): {', '.join(map(str, choice.kept))}" if choice.kept else ""
        return DeployOutcome(
            applied=tuple(m.key for m in apply if m.key in done and m.key in changed),
            unchanged=tuple(m.key for m in apply if m.key in done and m.key not in changed),
            pruned=tuple(m.key for m in choice.delete if m.key in pruned),
            failed=tuple(failed),
            not_attempted=tuple(not_attempted),
            message=kept,
        )

    def _apply(
        self, apply: Sequence[Manifest], secrets: set[str], failed: list[tuple[ObjKey, str]]
    ) -> tuple[set[ObjKey], list[ObjKey]]:
        done: set[ObjKey] = set()
        not_attempted: list[ObjKey] = []
        for group in plan.waves(apply):
            if failed:
                not_attempted += [m.key for m in group]
                continue
            result = self.kubectl.run(
                [
                    "apply",
                    "--server-side",
                    f"--field-manager={FIELD_MANAGER}",
                    "--force-conflicts=false",
                    "-o",
                    "name",
                    "-f",
                    "-",
                ],
                stdin=_stream([m.body for m in group]),
            )
            ok = plan.match_printed(
                [m.key for m in group], result.stdout.decode("utf-8", "replace").splitlines()
            )
            done |= ok
            err = redact(result.stderr.decode("utf-8", "replace"), known=secrets)
            for m in group:
                if m.key not in ok:
                    failed.append(
                        (
                            m.key,
                            "API server unreachable"
                            if unreachable(err)
                            else plan.failure_reason(m.key, err),
                        )
                    )
        return done, not_attempted

    def _delete(
        self,
        doomed: Sequence[Manifest],
        failed: list[tuple[ObjKey, str]],
    ) -> set[ObjKey]:
        result = self.kubectl.run(
            ["delete", "-f", "-", "--ignore-not-found", "--wait=false", "-o", "name"],
            stdin=_stream([_ident(m) for m in doomed]),
        )
        lines = [
            ln.removesuffix(" deleted")
            for ln in result.stdout.decode("utf-8", "replace").splitlines()
        ]
        gone = plan.match_printed([m.key for m in doomed], lines)
        if result.returncode == 0:  # --ignore-not-found: an object already gone prints nothing
            gone = {m.key for m in doomed}
        err = redact(result.stderr.decode("utf-8", "replace"))
        failed += [
            (m.key, "prune failed: " + plan.failure_reason(m.key, err))
            for m in doomed
            if m.key not in gone
        ]
        return gone
