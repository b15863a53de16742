"""What a renderer may read of one app: its files, and symlinks only while they stay inside.

A chart or a plain app is read through `walk_app`, which never follows a symlink out of the
app folder (nor into `.git`), reports unreadable folders and files instead of skipping
them, and refuses fifos, sockets and devices. `copy_app` then builds the private copy that
helm renders, so the tool itself never sees anything of the checkout but the app.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.model import Finding, Severity
from bot.render.sandbox import cannot_read, is_git_path, repo_path

Include = Callable[[str, bool], bool]  # (path inside the app, is a folder) -> read it?


def _everything(rel: str, is_dir: bool) -> bool:
    return True


@dataclass
class AppTree:
    """The readable content of one app folder (`top`) of the checkout `root`.

    Paths are POSIX and relative to `top`. `links` holds the symlinks that stay inside the
    app as (link, target), both relative to `top`.
    """

    root: Path
    top: Path
    label: str  # the app folder as the repository names it
    files: list[tuple[str, Path]] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    size: int = 0
    dir_links: bool = True

    def shown(self, rel: str) -> str:
        """The repository path of `rel` (for messages and findings)."""
        return f"{self.label}/{rel}".removeprefix("./") if rel else self.label

    def refuse(self, rel: str, message: str) -> None:
        self.findings.append(Finding(Severity.ERROR, "sandbox", message, file=self.shown(rel)))

    def unreadable(self, rel: str, exc: OSError) -> None:
        shown = self.shown(rel)
        self.findings.append(Finding(Severity.ERROR, "render", cannot_read(shown, exc), file=shown))


def _inside(top: Path, path: Path) -> bool:
    return path == top or top in path.parents


def walk_app(
    root: Path, top: Path, include: Include = _everything, dir_links: bool = True
) -> AppTree:
    """Everything under `top` that `include` admits; `.git` folders are never listed.

    With `dir_links` False, symlinks to folders are neither checked nor listed (the plain
    renderer never descends into them).
    """
    root = root.resolve()
    label = repo_path(root, Path(os.path.abspath(top)))
    tree = AppTree(root, top.resolve(), label, dir_links=dir_links)
    _walk(tree, tree.top, "", include)
    return tree


def _walk(tree: AppTree, here: Path, rel: str, include: Include) -> None:
    try:
        with os.scandir(here) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        tree.unreadable(rel, exc)
        return
    for entry in entries:
        sub = f"{rel}/{entry.name}" if rel else entry.name
        if entry.name.casefold() == ".git":
            continue  # git metadata is not the app's content
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as exc:
            tree.unreadable(sub, exc)
            continue
        if stat.S_ISLNK(info.st_mode):
            _link(tree, Path(entry.path), sub, include)
        elif stat.S_ISDIR(info.st_mode):
            if include(sub, True):
                tree.dirs.append(sub)
                _walk(tree, Path(entry.path), sub, include)
        elif stat.S_ISREG(info.st_mode):
            if include(sub, False):
                tree.files.append((sub, Path(entry.path)))
                tree.size += info.st_size
        elif include(sub, False):
            tree.refuse(
                sub, f"{tree.shown(sub)} is a device, fifo or socket, not a regular file; refused"
            )


def _link(tree: AppTree, path: Path, sub: str, include: Include) -> None:
    try:
        written = os.readlink(path)
        real = Path(os.path.realpath(path))
    except OSError as exc:
        tree.unreadable(sub, exc)
        return
    is_dir = real.is_dir()
    if (is_dir and not tree.dir_links) or not include(sub, is_dir):
        return
    shown = tree.shown(sub)
    if is_git_path(written) or (
        _inside(tree.root, real) and is_git_path(real.relative_to(tree.root).as_posix())
    ):
        tree.refuse(sub, f"symlink {shown} -> {written} points into .git; refused")
    elif not _inside(tree.top, real):
        tree.refuse(sub, f"symlink {shown} -> {written} leaves the app {tree.shown('')}; refused")
    elif is_dir and _inside(real, path.parent):
        tree.refuse(sub, f"symlink {shown} -> {written} loops back into its own folder; refused")
    else:
        tree.links.append((sub, real.relative_to(tree.top).as_posix()))


def copy_app(tree: AppTree, dest: Path) -> list[Finding]:
    """Copy the walked app into `dest` (new); in-app links point into the copy."""
    findings: list[Finding] = []
    dest.mkdir(mode=0o700)
    for rel in tree.dirs:
        (dest / rel).mkdir(mode=0o700)
    for rel, source in tree.files:
        try:
            shutil.copyfile(source, dest / rel, follow_symlinks=False)
        except OSError as exc:
            shown = tree.shown(rel)
            findings.append(Finding(Severity.ERROR, "render", cannot_read(shown, exc), file=shown))
    for rel, target in tree.links:
        link = dest / rel
        os.symlink(os.path.relpath(dest / target, link.parent), link)
    return findings
