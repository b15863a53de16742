"""The plain renderer: every YAML file under the target folder, loaded safely."""
from __future__ import annotations

from pathlib import Path

from bot.errors import BudgetExceeded, UserError
from bot.model import Finding, Manifest, Severity, Target
from bot.render.appfiles import walk_app
from bot.render.sandbox import Budgets, Refused, read_limited, resolve_inside
from bot.render.yamlload import load_manifests

# Files that configure other renderers, never objects themselves.
SKIP_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Chart.yaml"})


def _wanted(name: str) -> bool:
    if name.startswith((".", "values")) or name in SKIP_NAMES:
        return False
    return name.endswith((".yaml", ".yml"))


def _include(rel: str, is_dir: bool) -> bool:
    name = rel.rpartition("/")[2]
    return not name.startswith(".") if is_dir else _wanted(name)


def manifest_files(root: Path, top: Path) -> tuple[list[tuple[str, Path]], list[Finding]]:
    """The YAML files the plain renderer reads under `top` as (repository path, real path):
    recursive, sorted, no hidden dirs, symlinks only inside the app; plus the refusals and
    unreadable paths met on the way."""
    tree = walk_app(root, top, _include, dir_links=False)
    found = [(tree.shown(rel), real) for rel, real in tree.files]
    found += [(tree.shown(rel), tree.top / target) for rel, target in tree.links]
    return sorted(found), tree.findings


def render_plain(root: Path, target: Target,
                 budgets: Budgets) -> tuple[list[Manifest], list[Finding]]:
    """Load every manifest file of a plain target; refuse escapes and oversize input."""
    root = root.resolve()
    top = resolve_inside(root, target.path, "path")
    if not top.is_dir():
        raise UserError(f"path {target.path} is not a directory in the repository")
    files, findings = manifest_files(root, root / target.path)
    if findings:
        return [], findings
    manifests: list[Manifest] = []
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
            findings.append(Finding(Severity.ERROR, "render",
                                    f"manifests too large: more than {budgets.max_render_bytes}"
                                    f" bytes under {target.path}", file=shown))
            break
        objs, problems = load_manifests(data, shown, budgets)
        manifests += objs
        findings += problems
    return manifests, findings
