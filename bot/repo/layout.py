"""PURE: how teams lay out apps and environments in folders, as rules on paths.

- `<app>/overlays/<env>` (also `environments/`, `envs/`, `clusters/`): app x environment.
- `<app>/base` beside `<app>/<env>` folders that build on it: the same.
- `values-<env>.yaml` / `values.<env>.yaml` beside a chart: that environment's values.
- folders named `base`, `bases`, `components`, `patches` hold parts of apps, never apps.
- folders of local development tools (Tilt, Skaffold, DevSpace) are not deployed.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection

ENV_PARENTS = frozenset({"overlays", "environments", "envs", "clusters"})
PART_FOLDERS = frozenset({"base", "bases", "component", "components", "patches"})
_DEV_TOOL = re.compile(r"(^|[-_.])(tilt|skaffold|devspace)([-_.]|$)", re.IGNORECASE)
_VALUES_ENV = re.compile(r"^values[-.]([A-Za-z0-9][A-Za-z0-9_-]*)\.ya?ml$")


def parent(path: str) -> str:
    """The folder holding `path` (`.` for the root)."""
    return posixpath.dirname(path) or "."


def under(path: str, folders: Collection[str]) -> bool:
    """Whether `path` is one of `folders` (a set) or lies below one of them."""
    if "." in folders:
        return True
    while path:
        if path in folders:
            return True
        path = posixpath.dirname(path)
    return False


def covered(path: str, inputs: Collection[str]) -> bool:
    """Whether `path` equals an input file or lies under an input `dir/` (inputs: a set)."""
    if path in inputs or "" in inputs:
        return True
    folder = posixpath.dirname(path.rstrip("/"))
    while folder:
        if folder + "/" in inputs:
            return True
        folder = posixpath.dirname(folder)
    return False


def parts(path: str) -> list[str]:
    return [] if path in ("", ".") else path.split("/")


def is_part_folder(path: str) -> bool:
    """Whether `path` is, or lies in, a folder that holds parts of apps (a base...)."""
    return any(p in PART_FOLDERS for p in parts(path))


def is_dev_tool(path: str) -> bool:
    """Whether `path` lies in a folder named for a local development tool (`dev-tilt`)."""
    return any(_DEV_TOOL.search(p) for p in parts(path))


def env_parent_layout(path: str) -> tuple[str, str] | None:
    """(app folder, environment) for `<app>/overlays/<env>` and its kin, else None.

    At the top of the repository (`clusters/<env>`) the app is named after `clusters`.
    """
    names = parts(path)
    if len(names) >= 2 and names[-2] in ENV_PARENTS:
        return "/".join(names[:-2]) or names[-2], names[-1]
    return None


def sibling_base(path: str, is_dir: Collection[str]) -> str | None:
    """The `base` folder beside `path` (`<app>/base` for `<app>/<env>`), if there is one."""
    names = parts(path)
    if not names or names[-1] in PART_FOLDERS:
        return None
    base = posixpath.join(parent(path), "base") if parent(path) != "." else "base"
    return base if base in is_dir else None


def values_environments(chart: str, files: Collection[str]) -> dict[str, str]:
    """{environment: values file} for `values-<env>.yaml` / `values.<env>.yaml` in `chart`."""
    prefix = "" if chart == "." else chart + "/"
    found: dict[str, str] = {}
    for path in sorted(files):
        if path.startswith(prefix) and "/" not in path[len(prefix) :]:
            match = _VALUES_ENV.match(path[len(prefix) :])
            if match:
                found.setdefault(match.group(1), path)
    return found
