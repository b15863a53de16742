"""Kustomize targets that Argo CD or Flux edit before building (bot.render.kustomize_edit),
then Flux's post-build steps (bot.render.postbuild).

Both tools edit the kustomization in place, so the bot builds a private copy of the target
folder placed beside it in the checkout (a hidden sibling: relative references such as
`../base` still resolve to the same files) with the edited kustomization; a target at the
repository root is built in a private copy of the whole checkout. Object files and findings
name the real folder again afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any

import yaml

from bot.errors import BudgetExceeded
from bot.model import Finding, Manifest, Severity, Target
from bot.render.kustomize import kustomization_file, render_kustomize
from bot.render.kustomize_edit import edit
from bot.render.postbuild import post_build
from bot.render.sandbox import Budgets, Refused, read_limited, repo_path, resolve_inside
from bot.render.yamlload import load_documents
from bot.repo import options

EDIT_KEYS = ("kustomize", "generate")


def _copy(src: Path, dst: Path) -> None:
    """Folders, regular files and symlinks (as written) of `src`; nothing else, no .git."""
    dst.mkdir(mode=0o700)
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        here = Path(dirpath)
        rel = here.relative_to(src)
        dirnames[:] = [d for d in dirnames if d.casefold() != ".git"]
        for name in sorted(dirnames + filenames):
            path, out = here / name, dst / rel / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                os.symlink(os.readlink(path), out)
            elif stat.S_ISDIR(mode):
                out.mkdir(mode=0o700)
            elif stat.S_ISREG(mode):
                shutil.copyfile(path, out, follow_symlinks=False)


def _files(root: Path, directory: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames[:] = [d for d in dirnames if d.casefold() != ".git"]
        out += [repo_path(root, Path(dirpath) / f) for f in filenames]
    return out


def _original(
    root: Path, directory: Path, budgets: Budgets
) -> tuple[dict[str, Any] | None, list[Finding]]:
    kfile = kustomization_file(directory)
    if kfile is None:
        return None, []
    shown = repo_path(root, kfile)
    data = read_limited(resolve_inside(root, shown, "kustomization"), budgets.max_file_bytes, shown)
    docs, findings = load_documents(data, shown, budgets)
    if findings or not docs or not isinstance(docs[0].data, dict):
        return None, findings or [
            Finding(Severity.ERROR, "render", "kustomization is not a mapping", file=shown)
        ]
    return docs[0].data, []


def _rename(text: str | None, private: str, real: str) -> str | None:
    return text.replace(private, real) if text else text


def render_edited(
    root: Path, target: Target, kubectl: str, budgets: Budgets
) -> tuple[list[Manifest], list[Finding]]:
    """Render a kustomize target with its Argo CD / Flux settings applied."""
    root = root.resolve()
    opts = options.of(target)
    if not any(opts.get(k) for k in EDIT_KEYS):
        manifests, findings = render_kustomize(root, target, kubectl, budgets)
    else:
        manifests, findings = _render_copy(root, target, kubectl, budgets, opts)
    if findings and any(f.severity is Severity.ERROR for f in findings):
        return [], findings
    if opts.get("substitute") is not None or opts.get("common_metadata"):
        built, more = post_build(
            manifests, opts.get("substitute"), opts.get("common_metadata"), budgets.max_render_bytes
        )
        return built, findings + more
    return manifests, findings


def _render_copy(
    root: Path, target: Target, kubectl: str, budgets: Budgets, opts: dict[str, Any]
) -> tuple[list[Manifest], list[Finding]]:
    directory = resolve_inside(root, target.path, "path")
    if not directory.is_dir():
        raise Refused(f"path {target.path} is not a folder of the repository")
    original, problems = _original(root, directory, budgets)
    if problems:
        return [], problems
    if original is None and not opts.get("generate"):
        return render_kustomize(root, target, kubectl, budgets)
    try:
        kust = edit(
            original,
            opts.get("kustomize") or {},
            str(opts.get("kustomize_style")),
            target.path,
            _files(root, directory),
        )
    except ValueError as exc:
        return [], [Finding(Severity.ERROR, "render", f"kustomize edit: {exc}", file=target.path)]
    text = yaml.safe_dump(kust, sort_keys=False).encode()
    if len(text) > budgets.max_file_bytes:
        raise BudgetExceeded(f"edited kustomization of {target.path} is too large")
    token = secrets.token_hex(6)
    if target.path in ("", "."):
        base = root.parent / f".gitops-bot-root-{token}"
        _copy(root, base)
        work_root, shadow, private = base, base, "."
    else:
        shadow = directory.parent / f".gitops-bot-edit-{token}"
        _copy(directory, shadow)
        work_root, private = root, repo_path(root, shadow)
    try:
        for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            (shadow / name).unlink(missing_ok=True)
        (shadow / "kustomization.yaml").write_bytes(text)
        manifests, findings = render_kustomize(
            work_root, dataclasses.replace(target, path=private), kubectl, budgets
        )
    finally:
        shutil.rmtree(shadow, ignore_errors=True)
    if private == ".":
        return manifests, findings
    manifests = [Manifest(m.body, _rename(m.file, private, target.path), m.line) for m in manifests]
    findings = [
        dataclasses.replace(
            f,
            file=_rename(f.file, private, target.path),
            message=_rename(f.message, private, target.path) or "",
        )
        for f in findings
    ]
    return manifests, findings
