"""PURE: dangerous changes between a target's base and head renders.

What a reviewer must not miss in a long diff: updates the API server rejects because a field
is immutable (the object would have to be deleted and recreated), deletions whose data a
revert cannot bring back, deletions that cascade (an Argo CD Application with its resources
finalizer, a pruning Flux Kustomization), scaling to zero, and how many objects a deploy
prunes. The immutable fields are those the API server's update validation refuses to change
(apps/v1 selectors, StatefulSet spec apart from replicas/template/update settings, a Job's
pod template, a Service's cluster IP, a bound PVC's storage class, access and volume modes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.model import Danger, Manifest, ObjKey

Get = Callable[[Mapping[str, Any]], Any]

# (group, kind) -> immutable fields, as dotted paths below the object.
IMMUTABLE: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "Deployment"): ("spec.selector",),
    ("apps", "ReplicaSet"): ("spec.selector",),
    ("apps", "DaemonSet"): ("spec.selector",),
    ("apps", "StatefulSet"): (
        "spec.selector",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
        "spec.podManagementPolicy",
    ),
    ("batch", "Job"): ("spec.selector", "spec.template"),
    ("", "Service"): ("spec.clusterIP",),
    ("", "PersistentVolumeClaim"): (
        "spec.storageClassName",
        "spec.accessModes",
        "spec.volumeMode",
        "spec.volumeName",
    ),
}
# Deleting these loses data or everything inside them.
DATA_KINDS: dict[tuple[str, str], str] = {
    ("", "Namespace"): "every object in the namespace is deleted with it",
    ("", "PersistentVolumeClaim"): "the volume's data is lost (with the default Delete "
    "reclaim policy)",
    ("", "PersistentVolume"): "the volume's data is lost (with the Delete reclaim policy)",
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
    ): "every custom resource of that type in the cluster is deleted with it",
}
ARGO_FINALIZER = "resources-finalizer.argocd.argoproj.io"
WORKLOADS = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")}


def _get(body: Mapping[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _cascade(key: ObjKey, body: Mapping[str, Any]) -> str | None:
    """What deleting this GitOps object deletes with it, or None."""
    if (
        key.group == "argoproj.io"
        and key.kind == "Application"
        and ARGO_FINALIZER in (_meta(body).get("finalizers") or ())
    ):
        return "Argo CD deletes every object of the app (resources finalizer)"
    if key.group == "argoproj.io" and key.kind == "ApplicationSet":
        return "Argo CD deletes the Applications it generated, and their objects"
    if (
        key.group == "kustomize.toolkit.fluxcd.io"
        and key.kind == "Kustomization"
        and _get(body, "spec.prune") is True
    ):
        return "Flux deletes every object it applied (spec.prune: true)"
    if key.group == "helm.toolkit.fluxcd.io" and key.kind == "HelmRelease":
        return "Flux uninstalls the Helm release"
    return None


def _replicas(body: Mapping[str, Any]) -> int:
    value = _get(body, "spec.replicas")
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _immutable(
    key: ObjKey,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    normalize: Callable[[Mapping[str, Any]], Any],
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in IMMUTABLE.get((key.group, key.kind), ()):
        before, after = _get(old, path), _get(new, path)
        if path == "spec.clusterIP" and (not before or not after):
            continue  # unset on one side: the API server keeps the allocated one
        if path in ("spec.storageClassName", "spec.volumeName", "spec.volumeMode") and (
            before is None or after is None
        ):
            continue  # defaulted by the cluster when unset
        if normalize({"v": before}) != normalize({"v": after}):
            found.append(
                (
                    path,
                    f"{path} of {key} is immutable: the API server rejects the "
                    "update; the object must be deleted and recreated",
                )
            )
    if (
        key.group == ""
        and key.kind == "Service"
        and _get(old, "spec.type") == "ExternalName"
        and _get(new, "spec.type") not in (None, "ExternalName")
    ):
        found.append(
            (
                "spec.type",
                f"{key} changes from ExternalName to "
                f"{_get(new, 'spec.type')}: its DNS name stops being a "
                "CNAME and a cluster IP is allocated",
            )
        )
    return found


def detect(
    before: Sequence[Manifest],
    after: Sequence[Manifest],
    normalize: Callable[[Mapping[str, Any]], Any],
    renamed: Mapping[Any, Any] | None = None,
) -> list[Danger]:
    """Dangerous changes from `before` (base) to `after` (head), by object key.

    `renamed` (head key -> base key) names generated-name pairs: their old object is pruned
    too but is not counted as a surprising prune.
    """
    old = {m.key: m for m in before}
    new = {m.key: m for m in after}
    dangers: list[Danger] = []
    for key in sorted(old.keys() & new.keys()):
        o, n = old[key].body, new[key].body
        for path, message in _immutable(key, o, n, normalize):
            severity = "warning" if path == "spec.type" else "error"
            dangers.append(
                Danger(
                    "immutable-field" if severity == "error" else "type-change",
                    message,
                    severity,
                    key,
                    path,
                    new[key].file,
                    new[key].line,
                )
            )
        if (key.group, key.kind) in WORKLOADS and _replicas(o) > 0 and _replicas(n) == 0:
            dangers.append(
                Danger(
                    "scale-to-zero",
                    f"{key} is scaled to 0 replicas (from {_replicas(o)}): every pod stops",
                    "warning",
                    key,
                    "spec.replicas",
                    new[key].file,
                    new[key].line,
                )
            )
    gone = sorted(old.keys() - new.keys())
    for key in gone:
        body, where = old[key].body, old[key]
        why = DATA_KINDS.get((key.group, key.kind)) or _cascade(key, body)
        if why:
            dangers.append(
                Danger(
                    "delete", f"{key} is deleted: {why}", "error", key, None, where.file, where.line
                )
            )
    expected = set((renamed or {}).values())
    pruned = [k for k in gone if k not in expected]
    if pruned:
        names = ", ".join(str(k) for k in pruned[:5]) + (" …" if len(pruned) > 5 else "")
        dangers.append(
            Danger(
                "prune",
                f"a deploy prunes {len(pruned)} object{'s' if len(pruned) != 1 else ''}: {names}",
                "info",
                count=len(pruned),
            )
        )
    return dangers
