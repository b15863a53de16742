"""PURE: the Argo CD and Flux objects of a repository (and the ConfigMaps they may read),
found in its YAML files or in a target's rendered objects."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.model import Manifest, Target
from bot.render.sandbox import Budgets
from bot.render.yamlload import load_documents

Read = Callable[[str], bytes | None]
ARGOCD = "argoproj.io"
FLUX_KS = "kustomize.toolkit.fluxcd.io"
FLUX_HELM = "helm.toolkit.fluxcd.io"
FLUX_SOURCE = "source.toolkit.fluxcd.io"
FLUX_EXT = "source.extensions.fluxcd.io"
KINDS = {
    ARGOCD: {"Application", "ApplicationSet"},
    FLUX_KS: {"Kustomization"},
    FLUX_HELM: {"HelmRelease"},
    FLUX_SOURCE: {
        "GitRepository",
        "OCIRepository",
        "HelmRepository",
        "Bucket",
        "HelmChart",
        "ExternalArtifact",
    },
    FLUX_EXT: {"ArtifactGenerator"},
    "": {"ConfigMap"},
}
_KIND_LINE = re.compile(
    rb"^kind:[ \t]*[\"']?(Application|ApplicationSet|Kustomization|HelmRelease|GitRepository|"
    rb"OCIRepository|HelmRepository|Bucket|HelmChart|ExternalArtifact|ArtifactGenerator|"
    rb"ConfigMap)[\"']?[ \t]*(#.*)?$",
    re.MULTILINE,
)
_SCAN_BUDGETS = Budgets()
_DOC_START = re.compile(rb"^---[^\n]*\n", re.MULTILINE)


@dataclass(frozen=True)
class Found:
    """One Argo CD / Flux object (or ConfigMap): its body, the file that declares it and,
    when it came out of a render, the target whose render holds it."""

    body: Mapping[str, Any]
    file: str
    line: int | None = None
    parent: Target | None = None

    @property
    def group(self) -> str:
        api = str(self.body.get("apiVersion") or "")
        return api.rpartition("/")[0] if "/" in api else ""

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or "")

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace") or "")

    @property
    def meta(self) -> Mapping[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, Mapping) else {}

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def wanted(body: Any) -> bool:
    """Whether a document is an Argo CD / Flux object or a ConfigMap."""
    if not isinstance(body, Mapping):
        return False
    api = str(body.get("apiVersion") or "")
    group = api.rpartition("/")[0] if "/" in api else ""
    return str(body.get("kind") or "") in KINDS.get(group, set())


def in_chart(path: str, charts: Collection[str]) -> bool:
    """Whether `path` lies in a Helm chart folder (templates are not YAML until rendered)."""
    parent = posixpath.dirname(path)
    while parent:
        if parent in charts:
            return True
        parent = posixpath.dirname(parent)
    return "." in charts


def scan_files(files: Iterable[str], read: Read) -> list[Found]:
    """The objects declared in the repository's YAML files (outside charts and hidden
    folders); files that do not parse are skipped (their targets report them)."""
    files = sorted(files)
    charts = {posixpath.dirname(f) or "." for f in files if posixpath.basename(f) == "Chart.yaml"}
    out: list[Found] = []
    for path in files:
        if (
            not path.endswith((".yaml", ".yml"))
            or in_chart(path, charts)
            or any(part.startswith(".") for part in path.split("/"))
        ):
            continue
        data = read(path)
        if not data or not _KIND_LINE.search(data):
            continue
        out += _documents(data, path)
    return out


def _documents(data: bytes, path: str) -> list[Found]:
    """The wanted objects of one file, parsing only the documents that may be one (bundles
    of thousands of objects hold few)."""
    starts = [0] + [m.end() for m in _DOC_START.finditer(data)]
    out: list[Found] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end]
        if not _KIND_LINE.search(chunk):
            continue
        line = data.count(b"\n", 0, start) + 1
        docs, _ = load_documents(chunk, path, _SCAN_BUDGETS)
        out += [Found(d.data, path, d.line + line - 1) for d in docs if wanted(d.data)]
    return out


def from_render(manifests: Sequence[Manifest], parent: Target) -> list[Found]:
    """The objects a target's render holds, each with the file the renderer names."""
    return [
        Found(m.body, m.file or parent.path, m.line, parent) for m in manifests if wanted(m.body)
    ]


_MENTION = re.compile(
    rb"^kind:[ \t]*[\"']?(Application|ApplicationSet|Kustomization|"
    rb"HelmRelease)[\"']?[ \t]*(#.*)?$",
    re.MULTILINE,
)


def mentions(data: bytes | None) -> bool:
    """A cheap look at a file (chart templates included) for a top-level Argo CD / Flux kind
    (a kustomization file's own `kind: Kustomization` is the caller's to leave out)."""
    return bool(data) and _MENTION.search(data or b"") is not None
