"""One long-lived `git cat-file --batch` per repository answers every question about it.

Revisions, commits, trees and blobs are all objects, so resolving a ref, listing a
revision's files, comparing two revisions and reading files need no process of their own:
a review whose targets all come from the cache starts no process at all once the reader of
its repository runs. Readers are kept per repository (a few, least recently used first to
go) and restarted when the repository at that path was replaced. git re-reads refs and
finds new objects on every request, so a long-lived reader sees new commits.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from bot import proc
from bot.errors import ToolError

MAX_READERS = 8
TREE_CACHE = 32  # flattened trees kept per reader
SMALL_BLOB = 64 * 1024  # blobs up to this size are kept by id (content-addressed) ...
BLOB_CACHE_BYTES = 16 * 1024 * 1024  # ... up to this many bytes per reader

# path -> (mode, type, object id); type is "blob" or "commit" (a submodule)
Tree = dict[str, tuple[str, str, str]]


def git_env(home: str | os.PathLike[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Clean environment for git: no system/global config, no prompts, no credentials."""
    return proc.clean_env(
        home=home,
        extra={
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            **(extra or {}),
        },
    )


class ObjectReader:
    """Objects of one repository by name (an object id or a revision expression)."""

    def __init__(self, repo: Path, identity: tuple[int, int]) -> None:
        self.repo, self.identity = repo, identity
        self._pipe: proc.Pipe | None = None
        self._lock = threading.Lock()
        self._trees: OrderedDict[str, Tree] = OrderedDict()
        self._blobs: OrderedDict[str, bytes] = OrderedDict()
        self._blob_bytes = 0
        self._served = False  # this process answered a request already

    def read(self, name: str) -> tuple[str, str, bytes] | None:
        """(object id, type, content) of what `name` names; None when it names nothing."""
        if not name or "\n" in name or "\0" in name:
            return None
        with self._lock:
            found = self._ask(name)
            if found is None and self._pipe is not None and self._served:
                # a reader that answered before may hold a stale view (the repository at
                # this path was replaced): a name it misses is asked once more afresh
                self._stop()
                found = self._ask(name)
            self._served = found is not None or self._served
            return found

    def _ask(self, name: str) -> tuple[str, str, bytes] | None:
        """One request and its answer (the lock is held)."""
        pipe = self._started()
        try:
            pipe.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
            pipe.stdin.flush()
            header = pipe.stdout.readline()
            parts = header.split()
            if len(parts) != 3:
                if not header:  # git is gone: the next request starts another
                    self._stop()
                    raise ToolError(
                        f"git cat-file stopped in {self.repo}: {pipe.stderr_tail.strip()[-300:]}"
                    )
                return None  # "<name> missing" / "<name> ambiguous"
            data = pipe.stdout.read(int(parts[2]))
            pipe.stdout.read(1)  # the newline after the content
        except (BrokenPipeError, ValueError) as exc:
            self._stop()
            raise ToolError(f"git cat-file stopped in {self.repo}") from exc
        return parts[0].decode(), parts[1].decode(), data

    def blob(self, blob_id: str) -> bytes | None:
        """A blob's content by its id; small ones are answered from memory next time."""
        with self._lock:
            hit = self._blobs.get(blob_id)
            if hit is not None:
                self._blobs.move_to_end(blob_id)
                return hit
        found = self.read(blob_id)
        if found is None or found[1] != "blob":
            return None
        if found[0] == blob_id and len(found[2]) <= SMALL_BLOB:
            with self._lock:
                self._blobs[blob_id] = found[2]
                self._blob_bytes += len(found[2])
                while self._blob_bytes > BLOB_CACHE_BYTES:
                    self._blob_bytes -= len(self._blobs.popitem(last=False)[1])
        return found[2]

    def each_blob(self, blob_ids: Sequence[str]) -> Iterator[bytes]:
        """The contents of many blobs, in order: all requests are written at once (by a
        helper thread) while the answers are read, so there is no round trip per blob."""
        with self._lock:
            pipe = self._started()

            def ask() -> None:
                try:
                    pipe.stdin.write(b"".join(b.encode() + b"\n" for b in blob_ids))
                    pipe.stdin.flush()
                except (BrokenPipeError, ValueError):
                    pass  # the reads below fail and say so

            writer = threading.Thread(target=ask, daemon=True)
            writer.start()
            try:
                for blob_id in blob_ids:
                    parts = pipe.stdout.readline().split()
                    if len(parts) != 3 or parts[1] != b"blob":
                        self._stop()
                        raise ToolError(f"git cat-file: cannot read blob {blob_id}")
                    data = pipe.stdout.read(int(parts[2]))
                    pipe.stdout.read(1)
                    yield data
            finally:
                writer.join()

    def tree(self, tree_id: str) -> Tree:
        """Every file (blob or submodule) under a tree, by path; kept for later calls."""
        with self._lock:
            hit = self._trees.get(tree_id)
            if hit is not None:
                self._trees.move_to_end(tree_id)
                return hit
        files: Tree = {}
        pending = [("", tree_id)]
        while pending:
            prefix, oid = pending.pop()
            found = self.read(oid)
            if found is None or found[1] != "tree":
                raise ToolError(f"git: cannot read tree {oid} in {self.repo}")
            for mode, name, child in _entries(found[2]):
                path = prefix + name
                if mode == "40000":
                    pending.append((path + "/", child))
                else:
                    files[path] = (
                        mode.rjust(6, "0"),
                        "commit" if mode == "160000" else "blob",
                        child,
                    )
        with self._lock:
            self._trees[tree_id] = files
            while len(self._trees) > TREE_CACHE:
                self._trees.popitem(last=False)
        return files

    def _started(self) -> proc.Pipe:
        if self._pipe is None:
            self._pipe = proc.Pipe(
                ["git", "-C", str(self.repo), "cat-file", "--batch"],
                env=git_env(tempfile.gettempdir()),
            )
        return self._pipe

    def _stop(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        self._served = False

    def close(self) -> None:
        """Stop the git process (a later request starts another)."""
        with self._lock:
            self._stop()


def _entries(data: bytes) -> list[tuple[str, str, str]]:
    """(mode, name, object id) of a raw tree object."""
    out: list[tuple[str, str, str]] = []
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space].decode()
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        out.append((mode, name, data[nul + 1 : nul + 21].hex()))
        pos = nul + 21
    return out


_readers: OrderedDict[str, ObjectReader] = OrderedDict()
_lock = threading.Lock()


def _identity(repo: Path) -> tuple[int, int]:
    dot_git = repo / ".git"
    try:
        info = os.stat(dot_git if dot_git.exists() else repo)
    except OSError:
        return 0, 0  # git will say what is wrong
    return info.st_dev, info.st_ino


def reader(repo: Path) -> ObjectReader:
    """The shared reader of the repository at `repo` (started on first use)."""
    key = os.path.abspath(repo)
    identity = _identity(Path(key))
    with _lock:
        found = _readers.get(key)
        if found is not None and found.identity == identity:
            _readers.move_to_end(key)
            return found
        stale = [found] if found is not None else []
        _readers[key] = made = ObjectReader(Path(key), identity)
        while len(_readers) > MAX_READERS:
            stale.append(_readers.popitem(last=False)[1])
    for old in stale:
        old.close()
    return made


def close_all() -> None:
    """Stop every reader (tests; a process about to exit needs nothing: git sees EOF)."""
    with _lock:
        readers = list(_readers.values())
        _readers.clear()
    for each in readers:
        each.close()
