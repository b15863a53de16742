"""The plain renderer: the YAML files of one app (a folder or one file), loaded safely.

A plain app is its folder and the subfolders that are not another app's: subfolders listed
in `Target.exclude`, and those holding a kustomization or a chart (rendered by kustomize or
helm, never as loose files), are left out. YAML that is not a Kubernetes object (a
JSON-patch list, values, `requirements.yaml`, kustomize configuration) is skipped with a
note; a document that looks like an object but is broken is an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.errors import BudgetExceeded, UserError
from bot.model import Finding, Manifest, Severity, Target
from bot.render.appfiles import walk_app
from bot.render.sandbox import Budgets, Refused, read_limited, repo_path, resolve_inside
from bot.render.yamlload import Document, load_documents, manifests_of

# Files that configure other renderers, never objects themselves.
SKIP_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Chart.yaml"})
OTHER_RENDERERS = ("kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml")
MAX_NAMED = 10  # skipped files named in the note; the rest are counted


def _wanted(name: str) -> bool:
    if name.startswith(".") or name in SKIP_NAMES:
        return False
    return name.endswith((".yaml", ".yml"))


def is_object_like(body: Any) -> bool:
    """Whether a document claims to be a Kubernetes object: a mapping with apiVersion or kind.

    Such a document must be a valid object (both set, non-empty); anything else is YAML
    of another kind, not the app's business.
    """
    return isinstance(body, dict) and ("apiVersion" in body or "kind" in body)


def _renders_elsewhere(folder: Path) -> bool:
    """Whether `folder` holds a kustomization or a chart (unreadable: no, so the walk that
    follows reports it)."""
    for name in OTHER_RENDERERS:
        try:
            if (folder / name).is_file():
                return True
        except OSError:
            return False
    return False


def manifest_files(
    root: Path, top: Path, exclude: frozenset[str] = frozenset()
) -> tuple[list[tuple[str, Path]], list[Finding]]:
    """The YAML files the plain renderer reads under `top` as (repository path, real path):
    recursive, sorted, no hidden dirs, no subfolders in `exclude` (repository paths) or
    holding a kustomization or a chart, symlinks only inside the app; plus the refusals and
    unreadable paths met on the way."""
    label = repo_path(root.resolve(), Path(os.path.abspath(top)))

    def include(rel: str, is_dir: bool) -> bool:
        name = rel.rpartition("/")[2]
        if not is_dir:
            return _wanted(name)
        shown = f"{label}/{rel}".removeprefix("./")
        if name.startswith(".") or shown in exclude:
            return False
        return not _renders_elsewhere(top / rel)

    tree = walk_app(root, top, include, dir_links=False)
    found = [(tree.shown(rel), real) for rel, real in tree.files]
    found += [(tree.shown(rel), tree.top / target) for rel, target in tree.links]
    return sorted(found), tree.findings


def _objects(docs: list[Document], shown: str) -> tuple[list[Manifest], list[Finding], bool]:
    """(objects, errors, whether some document was not object-like and was skipped)."""
    wanted = [d for d in docs if is_object_like(d.data)]
    objects, problems = manifests_of(wanted, shown)
    return objects, problems, len(wanted) < len(docs)


def _note(skipped: list[str], target: Target) -> Finding:
    shown = ", ".join(skipped[:MAX_NAMED])
    if len(skipped) > MAX_NAMED:
        shown += f" and {len(skipped) - MAX_NAMED} more"
    return Finding(
        Severity.INFO,
        "render",
        f"skipped YAML that is not a Kubernetes object (no apiVersion and kind): {shown}",
        file=target.path,
    )


def render_plain(
    root: Path, target: Target, budgets: Budgets
) -> tuple[list[Manifest], list[Finding]]:
    """Load the manifests of a plain target; refuse escapes and oversize input."""
    root = root.resolve()
    top = resolve_inside(root, target.path, "path")
    if top.is_file():
        files: list[tuple[str, Path]] = [(target.path, top)]
    elif top.is_dir():
        files, findings = manifest_files(root, root / target.path, frozenset(target.exclude))
        if findings:
            return [], findings
    else:
        raise UserError(f"path {target.path} is not a file or directory in the repository")
    manifests: list[Manifest] = []
    findings = []
    skipped: list[str] = []
    total = 0
    for shown, real in files:
        try:
            data = read_limited(real, budgets.max_file_bytes, shown)
        except (UserError, BudgetExceeded) as exc:
            check = "sandbox" if isinstance(exc, Refused) else "render"
            findings.append(Finding(Severity.ERROR, check, str(exc), file=shown))
            continue
        total += len(data)
        if total > budgets.max_render_bytes:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "render",
                    f"manifests too large: more than {budgets.max_render_bytes}"
                    f" bytes under {target.path}",
                    file=shown,
                )
            )
            break
        docs, problems = load_documents(data, shown, budgets)
        objects, errors, some_skipped = _objects(docs, shown)
        manifests += objects
        findings += problems + errors
        if some_skipped:
            skipped.append(shown)
    if skipped:
        findings.append(_note(skipped, target))
    return manifests, findings
