"""The plain renderer: every YAML file under the target folder, loaded safely."""
from __future__ import annotations

import os
from pathlib import Path

from bot.errors import BudgetExceeded, UserError
from bot.model import Finding, Manifest, Severity, Target
from bot.render.sandbox import Budgets, Refused, read_limited, repo_path, resolve_inside
from bot.render.yamlload import load_manifests

# Files that configure other renderers, never objects themselves.
SKIP_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Chart.yaml"})


def _wanted(name: str) -> bool:
    if name.startswith((".", "values")) or name in SKIP_NAMES:
        return False
    return name.endswith((".yaml", ".yml"))


def manifest_files(root: Path, top: Path) -> list[Path]:
    """The YAML files the plain renderer reads under `top`: recursive, sorted, no hidden dirs."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in filenames if _wanted(f)]
    return sorted(found, key=lambda p: repo_path(root, p))


def render_plain(root: Path, target: Target,
                 budgets: Budgets) -> tuple[list[Manifest], list[Finding]]:
    """Load every manifest file of a plain target; refuse escapes and oversize input."""
    root = root.resolve()
    top = resolve_inside(root, target.path, "path")
    if not top.is_dir():
        raise UserError(f"path {target.path} is not a directory in the repository")
    manifests: list[Manifest] = []
    findings: list[Finding] = []
    total = 0
    for path in manifest_files(root, root / target.path):
        shown = repo_path(root, path)
        try:
            real = resolve_inside(root, shown, "file")
            data = read_limited(real, budgets.max_file_bytes, shown)
        except (UserError, BudgetExceeded) as exc:
            check = "sandbox" if isinstance(exc, Refused) else "render"
            findings.append(Finding(Severity.ERROR, check, str(exc), file=shown))
            continue
        except OSError as exc:  # unreadable (a dangling link, a permission): name the file
            findings.append(Finding(Severity.ERROR, "render",
                                    f"cannot read {shown}: {exc.strerror}", file=shown))
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
