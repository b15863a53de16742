"""Duplicate objects: the same group/kind/namespace/name defined more than once."""
from __future__ import annotations

from collections.abc import Sequence

from bot.model import Finding, Manifest, ObjKey, Severity


def duplicate_findings(manifests: Sequence[Manifest]) -> list[Finding]:
    """One ERROR per repeated object, naming where it was first defined and where again.

    Objects without a kind or name are left to schema validation, which reports them.
    """
    first: dict[ObjKey, Manifest] = {}
    findings: list[Finding] = []
    for manifest in manifests:
        key = manifest.key
        if not key.kind or not key.name:
            continue
        if key not in first:
            first[key] = manifest
            continue
        earlier = first[key]
        group = f" ({key.group})" if key.group else ""
        findings.append(Finding(
            Severity.ERROR, "validate",
            f"{key}{group} is defined more than once: at {earlier.location} and at "
            f"{manifest.location}; the later one would silently replace the earlier",
            file=manifest.file, line=manifest.line, object=key))
    return findings
