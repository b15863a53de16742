"""Pure planning for server-side apply: waves, namespaces, results, prune candidates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.live.fields import TARGET_LABEL
from bot.model import Manifest, ObjKey

# Namespaces and CRDs must exist before what lives in them; workloads and custom resources
# come last so that the config they mount and the CRDs they need are there first.
FIRST_KINDS = {("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")}
WORKLOADS = {
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("", "Pod"),
    ("", "ReplicationController"),
}
BUILTIN_GROUPS = {
    "",
    "apps",
    "batch",
    "policy",
    "autoscaling",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
    "apiregistration.k8s.io",
    "flowcontrol.apiserver.k8s.io",
}
# Deleting these deletes everything inside them, managed or not: never pruned automatically.
NEVER_PRUNE = FIRST_KINDS


def wave(key: ObjKey) -> int:
    """0: Namespaces and CRDs; 1: config, identity, RBAC, services; 2: workloads and CRs."""
    if (key.group, key.kind) in FIRST_KINDS:
        return 0
    if (key.group, key.kind) in WORKLOADS or key.group not in BUILTIN_GROUPS:
        return 2
    return 1


def waves(manifests: Sequence[Manifest]) -> list[list[Manifest]]:
    """The objects grouped by wave, render order kept inside a wave; empty waves dropped."""
    groups: list[list[Manifest]] = [[], [], []]
    for m in manifests:
        groups[wave(m.key)].append(m)
    return [g for g in groups if g]


def with_namespace(body: Mapping[str, Any], namespace: str) -> Mapping[str, Any]:
    """`body` placed in `namespace` when it names none (for namespaced kinds only)."""
    meta = body.get("metadata") or {}
    if meta.get("namespace"):
        return body
    return {**body, "metadata": {**meta, "namespace": namespace}}


def crd_scopes(manifests: Sequence[Manifest]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for the CRDs in a render (their kinds are not served yet)."""
    out = {}
    for m in manifests:
        if (m.key.group, m.key.kind) == ("apiextensions.k8s.io", "CustomResourceDefinition"):
            spec = m.body.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if isinstance(kind, str):
                out[(str(spec.get("group") or ""), kind)] = spec.get("scope") == "Namespaced"
    return out


def printed_name(key: ObjKey) -> str:
    """What `kubectl -o name` prints for an object: `kind[.group]/name`, kind lower-cased."""
    kind = key.kind.lower() + (f".{key.group}" if key.group else "")
    return f"{kind}/{key.name}"


def match_printed(objects: Sequence[ObjKey], lines: Sequence[str]) -> set[ObjKey]:
    """The objects kubectl reported done. It handles objects in input order and prints one
    line per success, so each line matches the next unmatched object with that name."""
    done: set[ObjKey] = set()
    start = 0
    for line in (s.strip() for s in lines):
        for i in range(start, len(objects)):
            if objects[i] not in done and printed_name(objects[i]) == line:
                done.add(objects[i])
                start = i + 1
                break
    return done


def failure_reason(key: ObjKey, stderr: str) -> str:
    """The error lines that name `key` (kubectl's messages quote the object name), else all."""
    # kubectl's advice after a conflict ("Please review the fields above...") says nothing
    # about this object; keep the error itself.
    stderr = stderr.split("Please review the fields above")[0]
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    named = [
        ln
        for ln in lines
        if f'"{key.name}"' in ln or f"/{key.name}" in ln or f" {key.name} " in f" {ln} "
    ]
    text = "; ".join(named or lines) or "kubectl reported no reason"
    return text[:1000]


@dataclass(frozen=True)
class PruneChoice:
    """What prune would delete, and what it keeps on purpose."""

    delete: tuple[Manifest, ...]
    kept: tuple[ObjKey, ...]


def prune_candidates(
    live: Sequence[Manifest], desired: Sequence[ObjKey], label: str
) -> PruneChoice:
    """Live objects carrying this target's label that left the render (never anything
    unlabelled); Namespaces and CRDs are kept and named instead."""
    wanted = set(desired)
    delete: list[Manifest] = []
    kept: list[Manifest] = []
    for m in live:
        labels = (m.body.get("metadata") or {}).get("labels") or {}
        if labels.get(TARGET_LABEL) != label or m.key in wanted:
            continue
        (kept if (m.key.group, m.key.kind) in NEVER_PRUNE else delete).append(m)
    return PruneChoice(tuple(delete), tuple(m.key for m in kept))
