"""Reading a repository at a revision (or its working tree) without touching its checkout.

A `Snapshot` lists the files of one revision with their blob ids, reads files through one
long-lived `git cat-file --batch`, and materialises the tree into a private directory for
the renderers (`git read-tree` into a temporary index + `git checkout-index`), so the
user's index and working tree are never modified.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Protocol

from bot import proc, scratch
from bot.errors import ToolError, UserError

SYMLINK_MODE = "120000"
_REF_OK = re.compile(r"^[A-Za-z0-9._/@{}~^:+-]+$")


def git_env(home: str | os.PathLike[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Clean environment for git: no system/global config, no prompts, no credentials."""
    return proc.clean_env(home=home, extra={
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", **(extra or {})})


def git(repo: Path, *args: str, env_extra: Mapping[str, str] | None = None,
        timeout: float = 60.0, stdin: bytes | None = None) -> bytes:
    """Run one git command in `repo` and return stdout (ToolError on failure)."""
    home = tempfile.gettempdir()
    return proc.run(["git", "-C", str(repo), *args], env=git_env(home, env_extra),
                    timeout=timeout, stdin=stdin).stdout


def rev_parse(repo: Path, ref: str) -> str:
    """The commit SHA `ref` names; UserError when it names nothing."""
    if not ref or ref.startswith("-") or not _REF_OK.match(ref):
        raise UserError(f"not a valid revision: {ref!r}")
    try:
        out = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except ToolError as exc:
        raise UserError(f"{repo}: unknown revision {ref!r}") from exc
    return out.decode().strip()


def remote_urls(repo: Path) -> tuple[str, ...]:
    """The fetch URL of the `origin` remote, if the repository has one (else empty)."""
    try:
        url = git(repo, "config", "--get", "remote.origin.url").decode().strip()
    except (ToolError, UserError):
        return ()
    return (url,) if url else ()


def changed_files(repo: Path, base: str, head: str) -> list[str]:
    """Paths added, modified or deleted between two commits (renames count as both)."""
    out = git(repo, "diff", "--name-only", "--no-renames", "-z", base, head, "--")
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


class Snapshot(Protocol):
    """The files of one revision: listing, reading, digests and a materialised copy."""

    label: str

    @property
    def files(self) -> Mapping[str, str]: ...  # path -> content id

    @property
    def unreadable(self) -> Mapping[str, str]: ...  # path -> reason (working trees only)

    def read(self, path: str) -> bytes | None: ...

    def materialize(self, dest: Path) -> Path: ...


def input_digest(snapshot: Snapshot, inputs: Collection[str]) -> str:
    """sha256 over (path, content id) of every file the inputs cover (dirs end in '/')."""
    dirs = tuple(p for p in inputs if p.endswith("/") or p == "")
    exact = {p for p in inputs if not p.endswith("/")}
    h = hashlib.sha256()
    for path in sorted(snapshot.files):
        if path in exact or path.startswith(dirs):
            h.update(f"{path}\0{snapshot.files[path]}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


class GitSnapshot:
    """A commit of a git repository, read without checking it out."""

    unreadable: Mapping[str, str] = {}  # git reads every blob or fails loudly

    def __init__(self, repo: Path, sha: str) -> None:
        self.repo, self.sha, self.label = repo, sha, sha[:12]
        out = git(repo, "ls-tree", "-r", "-z", "--full-tree", sha)
        self._files: dict[str, str] = {}
        self._modes: dict[str, str] = {}
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, path_b = entry.partition(b"\t")
            mode, kind, blob = meta.decode().split(" ")
            if kind != "blob":
                continue  # submodules are not read
            path = path_b.decode("utf-8", "surrogateescape")
            self._files[path], self._modes[path] = blob, mode
        self._pipe: proc.Pipe | None = None
        self._lock = threading.Lock()

    @property
    def files(self) -> Mapping[str, str]:
        return self._files

    def read(self, path: str) -> bytes | None:
        """A regular file's bytes; None when absent or a symlink (never followed here)."""
        blob = self._files.get(path)
        if blob is None or self._modes.get(path) == SYMLINK_MODE:
            return None
        return self.read_blob(blob)

    def read_blob(self, blob: str) -> bytes:
        """Content of a blob through the shared `git cat-file --batch` process."""
        with self._lock:
            if self._pipe is None:
                self._pipe = proc.Pipe(["git", "-C", str(self.repo), "cat-file", "--batch"],
                                       env=git_env(tempfile.gettempdir()))
            pipe = self._pipe
            pipe.stdin.write(blob.encode() + b"\n")
            pipe.stdin.flush()
            header = pipe.stdout.readline().split()
            if len(header) != 3:
                raise ToolError(f"git cat-file: cannot read blob {blob}")
            size = int(header[2])
            data = pipe.stdout.read(size)
            pipe.stdout.read(1)  # trailing newline
            return data

    def materialize(self, dest: Path) -> Path:
        """Write the whole tree into `dest` (symlinks kept as symlinks) and return it."""
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        with scratch.temporary("gitops-bot-index-") as tmp:
            extra = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            git(self.repo, "read-tree", self.sha, env_extra=extra)
            git(self.repo, "checkout-index", "-a", "-f", f"--prefix={dest}/", env_extra=extra)
        return dest

    def close(self) -> None:
        """Stop the reader process."""
        with self._lock:
            if self._pipe is not None:
                self._pipe.close()
                self._pipe = None


class WorktreeSnapshot:
    """The working tree of a directory as it stands (for `check` without revisions).

    `.git` folders (and `.git` files of worktrees and submodules) are not part of it: a CI
    checkout keeps its credentials there. Paths that cannot be read are listed in
    `unreadable` (path -> reason) instead of being skipped.
    """

    def __init__(self, root: Path) -> None:
        self.root, self.label = root.resolve(), "working tree"
        self._files: dict[str, str] = {}
        self.unreadable: dict[str, str] = {}

        def failed(exc: OSError) -> None:
            self._unreadable(Path(str(exc.filename)), exc)

        for dirpath, dirnames, filenames in os.walk(self.root, onerror=failed):
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            dirnames[:] = sorted(d for d in dirnames
                                 if d.casefold() != ".git" and d not in links)
            for name in [*filenames, *links]:  # links to folders are files here, as in git
                if name.casefold() == ".git":
                    continue
                full = Path(dirpath, name)
                try:
                    info = full.lstat()
                except OSError as exc:
                    self._unreadable(full, exc)
                    continue
                self._files[full.relative_to(self.root).as_posix()] = \
                    f"{info.st_size}:{info.st_mtime_ns}"

    def _unreadable(self, path: Path, exc: OSError) -> None:
        rel = path.relative_to(self.root).as_posix() if path != self.root else "."
        self.unreadable[rel] = (exc.strerror or type(exc).__name__).lower()

    @property
    def files(self) -> Mapping[str, str]:
        return self._files

    def read(self, path: str) -> bytes | None:
        """A regular file's bytes; None when absent or a symlink; UserError when unreadable."""
        full = self.root / path
        if path not in self._files or full.is_symlink() or not full.is_file():
            return None
        try:
            return full.read_bytes()
        except OSError as exc:
            reason = (exc.strerror or type(exc).__name__).lower()
            raise UserError(f"cannot read {path}: {reason}") from None

    def materialize(self, dest: Path) -> Path:
        """Copy the listed files into `dest` as `git checkout-index` would: symlinks kept as
        symlinks (the sandbox scan judges them), fifos, sockets and devices as fifos (which
        it refuses), `.git` left out. Files that cannot be read join `unreadable`."""
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        for rel in sorted(self._files):
            source, copy = self.root / rel, dest / rel
            copy.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                mode = source.lstat().st_mode
                if stat.S_ISLNK(mode):
                    os.symlink(os.readlink(source), copy)
                elif stat.S_ISREG(mode):
                    shutil.copyfile(source, copy, follow_symlinks=False)
                else:
                    os.mkfifo(copy, 0o600)
            except OSError as exc:
                self._unreadable(source, exc)
        return dest

    def close(self) -> None:
        """Nothing to release."""


class EmptySnapshot:
    """No files: the 'before' side when a whole tree counts as created."""

    label = "empty"
    files: Mapping[str, str] = {}
    unreadable: Mapping[str, str] = {}

    def read(self, path: str) -> bytes | None:
        return None

    def materialize(self, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        return dest

    def close(self) -> None:
        """Nothing to release."""


def all_paths(snapshots: Iterable[Snapshot]) -> set[str]:
    """Union of the file paths of several snapshots."""
    paths: set[str] = set()
    for snap in snapshots:
        paths.update(snap.files)
    return paths
