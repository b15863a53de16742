"""Schema validation of rendered manifests: embedded (default) or kubeconform, plus duplicates.

Use `make_validator(tools, ...)` to get a `Validator`; its `validate()` checks schemas only,
so call `duplicate_findings()` as well. Schemas: built-in Kubernetes kinds, then the
repository's CRDs (render, CRD folders), then the shipped catalogue of common CRDs
(`catalogue`); SOPS-encrypted objects are checked against a relaxed variant (`sops`).
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Protocol

from bot.errors import ToolMissing, UserError
from bot.model import Finding, Manifest
from bot.tools import Tools
from bot.validate.duplicates import duplicate_findings
from bot.validate.embedded import EmbeddedValidator
from bot.validate.kubeconform import KubeconformValidator
from bot.validate.schemas import supported_versions

__all__ = [
    "EmbeddedValidator",
    "KubeconformValidator",
    "Validator",
    "duplicate_findings",
    "make_validator",
    "supported_versions",
]
PREFER = ("auto", "embedded", "kubeconform")


class Validator(Protocol):
    """Anything that turns manifests + a Kubernetes version into schema findings."""

    def validate(self, manifests: Sequence[Manifest], kubernetes_version: str) -> list[Finding]:
        """Schema findings (check="validate") for the manifests."""
        ...


def make_validator(
    tools: Tools,
    *,
    prefer: str = "auto",
    strict: bool = True,
    skip_kinds: Collection[str] = (),
    crd_dirs: Sequence[Path] = (),
) -> Validator:
    """kubeconform when configured or on PATH and `prefer` allows it, else the embedded one."""
    if prefer not in PREFER:
        raise UserError(f"validator must be one of {', '.join(PREFER)}, not {prefer!r}")
    if prefer != "embedded":
        binary = tools.kubeconform or shutil.which("kubeconform")
        if binary:
            return KubeconformValidator(
                binary, strict=strict, skip_kinds=skip_kinds, crd_dirs=crd_dirs
            )
        if prefer == "kubeconform":
            raise ToolMissing(
                "kubeconform is not installed; install it or use the embedded validator"
            )
    return EmbeddedValidator(strict=strict, skip_kinds=skip_kinds, crd_dirs=crd_dirs)
