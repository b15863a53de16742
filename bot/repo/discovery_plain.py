"""PURE: apps of plain manifests: folders, files that are alternatives, broken objects.

- A folder holding manifests is an app (its subfolders that hold manifests are apps too;
  the renderer leaves them out of the outer one).
- Files of one folder whose first objects are the same object are alternatives (Argo CD's
  `install.yaml` and `core-install.yaml`): each file is its own target, its environment
  named after the file.
- Folders without manifests of their own whose subfolders do hold them are one app when
  one subfolder declares the Namespace the others' objects live in (`webapp/common`,
  `webapp/backend`, ...): those parts deploy together.
- A file that claims to be an object but is broken is never left out: where no app would
  read it, it becomes a target of its own, so the renderer reports it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterator

from bot.repo import layout
from bot.repo.kustomize_refs import Read
from bot.repo.sniff import ObjectHead, looks_broken, looks_like_manifest, object_heads

SKIP_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Chart.yaml"})
Plain = tuple[str, str | None, str]  # (app folder, environment or None: alone, path)


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]


def _alternatives(files: dict[str, list[ObjectHead]]) -> bool:
    """Whether two files start with the same named object (each is a whole variant)."""
    firsts = [heads[0] for heads in files.values() if heads and heads[0].name]
    return len(firsts) != len(set(firsts))


def _declares_for_siblings(children: dict[str, dict[str, list[ObjectHead]]]) -> bool:
    """Whether one folder declares a Namespace that another folder's objects live in."""
    declared = {
        folder: {
            h.name for heads in files.values() for h in heads if h.kind == "Namespace" and h.name
        }
        for folder, files in children.items()
    }
    for folder, files in children.items():
        used = {h.namespace for heads in files.values() for h in heads if h.namespace}
        if any(used & names for other, names in declared.items() if other != folder):
            return True
    return False


def _group(folders: dict[str, dict[str, list[ObjectHead]]]) -> dict[str, list[str]]:
    """{app folder: its manifest folders}: parts deployed together merge under their parent."""
    by_parent: dict[str, list[str]] = {}
    for folder in folders:
        by_parent.setdefault(layout.parent(folder), []).append(folder)
    groups: dict[str, list[str]] = {f: [f] for f in folders}
    for parent, children in by_parent.items():
        if (
            parent in folders
            or parent == "."
            or len(children) < 2
            or layout.env_parent_layout(children[0])
        ):
            continue
        if _declares_for_siblings({c: folders[c] for c in children}):
            for child in children:
                del groups[child]
            groups[parent] = children
    return groups


def plain_apps(
    visible: Collection[str],
    read: Read,
    kdirs: Collection[str],
    charts: Collection[str],
    kinputs: Collection[str],
    kread: Collection[str],
) -> Iterator[Plain]:
    """(app folder, environment, path) of every plain target among `visible` files; the
    environment is None for an app found alone.

    `kinputs`: what discovery counts as kustomize content (folders and what they name);
    `kread`: only what kustomizations name.
    """
    folders: dict[str, dict[str, list[ObjectHead]]] = {}
    kdir_set, chart_set = set(kdirs), set(charts)
    for path in visible:
        name = posixpath.basename(path)
        folder = layout.parent(path)
        if (
            not name.endswith((".yaml", ".yml"))
            or name in SKIP_NAMES
            or layout.is_dev_tool(folder)
            or layout.under(folder, chart_set)
        ):
            continue
        if layout.under(folder, kdir_set):
            if not layout.covered(path, kread) and looks_broken(read(path)):
                yield path, None, path
            continue
        if layout.covered(path, kinputs):
            continue
        content = read(path)
        if looks_like_manifest(content) or looks_broken(content):
            folders.setdefault(folder, {})[path] = object_heads(content)
    for folder, parts in sorted(_group(folders).items()):
        files = folders.get(folder, {})
        if parts == [folder] and len(files) > 1 and _alternatives(files):
            for path in sorted(files):
                yield folder, _stem(path), path
            continue
        placed = layout.env_parent_layout(folder)
        app, env = placed if placed else (folder, None)
        yield app, env, folder
