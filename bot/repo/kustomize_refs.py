"""Local files a kustomization reads: its direct references and the transitive walk."""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.repo.kustomize_fields import RefKind, path_refs
from bot.repo.safeyaml import load_one

Read = Callable[[str], bytes | None]
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_DIRS = 2000  # a walk through more kustomizations than this is surely a cycle or abuse
_REMOTE = re.compile(
    r"^([a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)"
    r"|\?(ref|version|timeout|submodules)=",
    re.IGNORECASE,
)


def join(base: str, ref: str) -> str | None:
    """`ref` relative to directory `base`, normalised; None when it leaves the repository."""
    if not ref or ref.startswith("/") or "\\" in ref:
        return None
    path = posixpath.normpath(posixpath.join(base, ref))
    if path == ".." or path.startswith("../"):
        return None
    return path


def dir_prefix(path: str) -> str:
    """The prefix that matches every file under directory `path` (`""` for the root)."""
    return "" if path in ("", ".") else path.rstrip("/") + "/"


class RepoIndex(Collection[str]):
    """The files of one revision with their directories, for `is_dir`/`is_file` look-ups.

    It is itself a collection of the file paths: build it once and pass it wherever `files`
    is expected to avoid re-indexing per target.
    """

    def __init__(self, files: Collection[str]) -> None:
        self.files: frozenset[str] = frozenset(files)
        dirs: set[str] = {"."}
        for f in self.files:
            parent = posixpath.dirname(f)
            while parent and parent not in dirs:
                dirs.add(parent)
                parent = posixpath.dirname(parent)
        self.dirs = frozenset(dirs)

    @staticmethod
    def of(files: Collection[str]) -> RepoIndex:
        """`files` itself when already indexed, else a new index (reused for immutable input)."""
        if isinstance(files, RepoIndex):
            return files
        if isinstance(files, (frozenset, tuple)):
            return _index_of_immutable(files)
        return RepoIndex(files)

    def __contains__(self, path: object) -> bool:
        return path in self.files

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def is_dir(self, path: str) -> bool:
        return path in self.dirs

    def is_file(self, path: str) -> bool:
        return path in self.files

    def kustomization_file(self, directory: str) -> str | None:
        """The kustomization file of `directory`, if it has one."""
        for name in KUSTOMIZATION_FILES:
            path = name if directory in ("", ".") else f"{directory}/{name}"
            if path in self.files:
                return path
        return None


@functools.lru_cache(maxsize=4)
def _index_of_immutable(files: frozenset[str] | tuple[str, ...]) -> RepoIndex:
    return RepoIndex(files)


def load_kustomization(path: str, read: Read) -> dict[str, Any]:
    """The kustomization at `path` as a mapping ({} when unreadable: the renderer reports it)."""
    content = read(path)
    if content is None:
        return {}
    data = load_one(content)  # budgeted: a PR's kustomization may be hostile
    return data if isinstance(data, dict) else {}


def _is_ref(value: str) -> bool:
    """A local path reference (not an inline patch or a remote base)."""
    return bool(value) and "\n" not in value and not _REMOTE.search(value)


def raw_refs(k: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """(reference, may be a kustomization dir) for every path a kustomization names."""
    for ref in path_refs(k):
        yield ref.path, ref.kind is not RefKind.FILE


@dataclass
class Walk:
    """Result of walking kustomizations: inputs (files exact, dirs as `dir/`) and visited dirs."""

    inputs: set[str] = field(default_factory=set)
    kustomizations: list[str] = field(default_factory=list)


def _own_files(directory: str, kust: dict[str, Any]) -> set[str]:
    """What of `directory` itself a build reads: only its kustomization file (under any of
    its names, so adding a second one counts), or the whole folder when that file is
    missing or unreadable (fail closed)."""
    if not kust:
        return {dir_prefix(directory)}
    base = dir_prefix(directory)
    return {base + name for name in KUSTOMIZATION_FILES}


def _resolve(directory: str, kust: dict[str, Any], index: RepoIndex) -> tuple[set[str], set[str]]:
    files: set[str] = set()
    dirs: set[str] = set()
    for ref, may_be_dir in raw_refs(kust):
        if not _is_ref(ref):
            continue
        path = join(directory, ref)
        if path is None:
            continue
        if index.is_dir(path):
            if may_be_dir:
                dirs.add(path)
            else:
                files.add(dir_prefix(path))
        elif index.is_file(path):
            files.add(path)
        else:  # missing at this revision: match it either way so adding it later counts
            files.update({path, dir_prefix(path)})
    return files, dirs


def _load(directory: str, index: RepoIndex, read: Read) -> dict[str, Any]:
    kfile = index.kustomization_file(directory)
    return load_kustomization(kfile, read) if kfile is not None else {}


def _unreadable(directory: str, index: RepoIndex, read: Read) -> bool:
    """Whether `directory` has a kustomization file with content the walk cannot read (too
    large for the YAML budget, malformed, hostile); the renderer reports what is wrong."""
    kfile = index.kustomization_file(directory)
    content = read(kfile) if kfile is not None else None
    if content is None or not content.strip():
        return False
    return not isinstance(load_one(content), dict)


def direct_refs(directory: str, index: RepoIndex, read: Read) -> tuple[set[str], set[str]]:
    """(files, kustomization dirs) that the kustomization in `directory` names directly."""
    return _resolve(directory, _load(directory, index, read), index)


def walk(directory: str, index: RepoIndex, read: Read) -> Walk:
    """Everything the kustomization in `directory` reads, following local dirs recursively.

    A kustomization reads only what it names: a file added beside it changes nothing.
    Fails closed: when the walk cannot know every input (more than MAX_DIRS kustomizations,
    or a kustomization too large or malformed to read here), the inputs include `""`, every
    file of the repository, so no change can slip past the target unreviewed.
    """
    result = Walk()
    todo, seen = [directory], {directory}
    while todo:
        if len(seen) > MAX_DIRS:
            result.inputs.add("")  # MAX_DIRS reached: every file counts as an input
            break
        current = todo.pop()
        result.kustomizations.append(current)
        kust = _load(current, index, read)
        result.inputs.update(_own_files(current, kust))
        if not kust and _unreadable(current, index, read):
            result.inputs.add("")  # its references are unknown here: every file counts
        files, dirs = _resolve(current, kust, index)
        result.inputs.update(files)
        for d in sorted(dirs):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return result
