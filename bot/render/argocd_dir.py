"""Argo CD "directory" apps: the YAML/JSON files of a folder (recursive only with
`directory.recurse`), filtered by `include` / `exclude` globs, read as Argo CD's repo
server reads them: a file that fails to parse and does not look like a manifest is
ignored, one that looks like a manifest is an error; `+argocd:skip-file-rendering` skips
a file; jsonnet is not evaluated (an error naming the file)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.errors import BudgetExceeded, UserError
from bot.model import Finding, Manifest, Severity, Target
from bot.render.appfiles import walk_app
from bot.render.sandbox import Budgets, Refused, read_limited, resolve_inside
from bot.render.yamlload import load_manifests
from bot.repo import options

MANIFEST = re.compile(r"^.*\.(yaml|yml|json|jsonnet)$")
SKIP_MARKER = b"+argocd:skip-file-rendering"


def glob_match(pattern: str, text: str) -> bool:
    """Argo CD's glob (gobwas/glob without separators): `*` and `?` match `/` too, `{a,b}`
    alternatives, `[...]` classes (`!` negates)."""
    out, i, depth = "", 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out += ".*"
        elif c == "?":
            out += "."
        elif c == "{":
            out, depth = out + "(?:", depth + 1
        elif c == "}" and depth:
            out, depth = out + ")", depth - 1
        elif c == "," and depth:
            out += "|"
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                return False
            body = pattern[i + 1 : j]
            out += (
                "["
                + (
                    "^" + re.escape(body[1:])
                    if body.startswith("!")
                    else re.escape(body).replace("\\-", "-")
                )
                + "]"
            )
            i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    try:
        return re.fullmatch(out, text, re.DOTALL) is not None
    except re.error:
        return False


def _looks_like_manifest(data: bytes) -> bool:
    return b"apiVersion:" in data and b"kind:" in data and b"metadata:" in data


def render_directory(
    root: Path, target: Target, budgets: Budgets
) -> tuple[list[Manifest], list[Finding]]:
    """The objects of an Argo CD directory app."""
    root = root.resolve()
    settings = options.of(target).get("directory") or {}
    recurse = bool(settings.get("recurse"))
    include, exclude = str(settings.get("include") or ""), str(settings.get("exclude") or "")
    top = resolve_inside(root, target.path, "path")
    if not top.is_dir():
        raise UserError(f"path {target.path} is not a directory in the repository")

    def wanted(rel: str, is_dir: bool) -> bool:
        if is_dir:
            return recurse
        name = rel.rpartition("/")[2]
        return (
            bool(MANIFEST.match(name))
            and not (exclude and glob_match(exclude, rel))
            and not (include and not glob_match(include, rel))
        )

    tree = walk_app(root, top, wanted, dir_links=recurse)
    if tree.findings:
        return [], tree.findings
    found = sorted(
        [(tree.shown(rel), real) for rel, real in tree.files]
        + [(tree.shown(rel), tree.top / link) for rel, link in tree.links]
    )
    manifests: list[Manifest] = []
    findings: list[Finding] = []
    total = 0
    for shown, real in found:
        try:
            data = read_limited(real, budgets.max_file_bytes, shown)
        except (UserError, BudgetExceeded) as exc:
            check = "sandbox" if isinstance(exc, Refused) else "render"
            findings.append(Finding(Severity.ERROR, check, str(exc), file=shown))
            continue
        if SKIP_MARKER in data:
            continue
        if shown.endswith(".jsonnet"):
            findings.append(
                Finding(
                    Severity.ERROR,
                    "render",
                    f"{shown}: jsonnet is not evaluated by the bot",
                    file=shown,
                )
            )
            continue
        total += len(data)
        if total > budgets.max_render_bytes:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "render",
                    f"manifests too large: more than "
                    f"{budgets.max_render_bytes} bytes under {target.path}",
                    file=shown,
                )
            )
            break
        objs, problems = load_manifests(data, shown, budgets)
        if problems and not _looks_like_manifest(data):
            continue  # Argo CD ignores YAML files that are not manifests
        manifests += objs
        findings += problems
    return manifests, findings
