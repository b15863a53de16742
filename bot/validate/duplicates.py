"""Duplicate objects: the same group/kind/namespace/name defined more than once.

Identity is the object's place in the cluster: a namespaced object without a namespace is
applied into the target's namespace (`default` unless configured), and a cluster-scoped
object has no namespace whatever its manifest says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.model import Finding, Manifest, ObjKey, Severity
from bot.validate.scope import crd_scopes, namespaced

DEFAULT_NAMESPACE = "default"


def placed_key(
    manifest: Manifest, namespace: str, crds: Mapping[tuple[str, str], bool]
) -> tuple[ObjKey, str]:
    """The key of the object once applied, and a note when it differs from the manifest."""
    key = manifest.key
    if not namespaced(key.group, key.kind, crds):
        note = f" (its namespace is ignored: {key.kind} is cluster-scoped)" if key.namespace else ""
        return ObjKey(key.group, key.kind, "", key.name), note
    if not key.namespace:
        return (
            ObjKey(key.group, key.kind, namespace, key.name),
            f" (no namespace: applied into {namespace})",
        )
    return key, ""


def duplicate_findings(
    manifests: Sequence[Manifest],
    namespace: str | None = None,
    scopes: Mapping[tuple[str, str], bool] | None = None,
) -> list[Finding]:
    """One ERROR per repeated object, naming where it was first defined and where again.

    `namespace` is where the target applies objects that name none (default `default`);
    `scopes` adds (group, kind) -> namespaced for kinds whose CRDs are outside the render.
    Objects without a kind or name are left to schema validation, which reports them.
    """
    crds = {**(scopes or {}), **crd_scopes(manifests)}
    target_ns = namespace or DEFAULT_NAMESPACE
    first: dict[ObjKey, tuple[Manifest, str]] = {}
    findings: list[Finding] = []
    for manifest in manifests:
        if not manifest.key.kind or not manifest.key.name:
            continue
        key, note = placed_key(manifest, target_ns, crds)
        if key not in first:
            first[key] = manifest, note
            continue
        earlier, earlier_note = first[key]
        if earlier.key.namespace == manifest.key.namespace:  # same as written: no notes
            earlier_note = note = ""
        group = f" ({key.group})" if key.group else ""
        findings.append(
            Finding(
                Severity.ERROR,
                "validate",
                f"{key}{group} is defined more than once: at {earlier.location}{earlier_note} and "
                f"at {manifest.location}{note}; the later one would silently replace the earlier",
                file=manifest.file,
                line=manifest.line,
                object=key,
            )
        )
    return findings
