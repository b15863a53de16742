"""Reading a repository at a revision (or its working tree) without touching its checkout.

A `Snapshot` lists the files of one revision with their blob ids, reads files through one
long-lived `git cat-file --batch`, and materialises the tree into a private directory for
the renderers (`git read-tree` into a temporary index + `git checkout-index`), so the
user's index and working tree are never modified.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Protocol

from bot import gitbatch, proc
from bot.gitbatch import git_env as git_env  # re-exported: callers import it from here
from bot.errors import ToolError, UserError

SYMLINK_MODE = "120000"
_REF_OK = re.compile(r"^[A-Za-z0-9._/@{}~^:+-]+$")


def git(
    repo: Path,
    *args: str,
    env_extra: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    stdin: bytes | None = None,
) -> bytes:
    """Run one git command in `repo` and return stdout (ToolError on failure)."""
    home = tempfile.gettempdir()
    return proc.run(
        ["git", "-C", str(repo), *args], env=git_env(home, env_extra), timeout=timeout, stdin=stdin
    ).stdout


def rev_parse(repo: Path, ref: str) -> str:
    """The commit SHA `ref` names; UserError when it names nothing."""
    if not ref or ref.startswith("-") or not _REF_OK.match(ref):
        raise UserError(f"not a valid revision: {ref!r}")
    try:
        found = gitbatch.reader(repo).read(f"{ref}^{{commit}}")
    except ToolError as exc:
        raise UserError(f"{repo}: unknown revision {ref!r}") from exc
    if found is None:
        raise UserError(f"{repo}: unknown revision {ref!r}")
    return found[0]


def commit_field(repo: Path, sha: str, name: str) -> str:
    """A header line of a commit object without its name (`author`, `tree`, ...)."""
    found = gitbatch.reader(repo).read(sha)
    if found is None or found[1] != "commit":
        raise ToolError(f"git: {sha} is not a commit in {repo}")
    for line in found[2].split(b"\n\n", 1)[0].split(b"\n"):
        key, _, value = line.partition(b" ")
        if key.decode() == name:
            return value.decode("utf-8", "replace")
    return ""


def contains(repo: Path, head: str, ancestor: str, limit: int = 1000) -> bool | None:
    """Whether commit `ancestor` is `head` or one of its ancestors, walking at most `limit`
    commits through the repository's reader (no process); None when the walk was cut."""
    reader = gitbatch.reader(repo)
    seen: set[str] = set()
    todo = [head]
    while todo:
        sha = todo.pop()
        if sha == ancestor:
            return True
        if sha in seen:
            continue
        if len(seen) >= limit:
            return None
        seen.add(sha)
        found = reader.read(sha)
        if found is None or found[1] != "commit":
            return None
        for line in found[2].split(b"\n\n", 1)[0].split(b"\n"):
            if line.startswith(b"parent "):
                todo.append(line[7:].decode())
    return False


def author_email(repo: Path, sha: str) -> str:
    """The author e-mail of a commit (as `git log --format=%ae` prints it)."""
    author = commit_field(repo, sha, "author")
    return author[author.find("<") + 1 : author.rfind(">")] if "<" in author else ""


def commit_tree(repo: Path, sha: str) -> gitbatch.Tree:
    """Every file (blobs and submodules) of a commit (or of a tree, e.g. a merge result
    `git merge-tree` wrote) by path: (mode, type, object id)."""
    reader = gitbatch.reader(repo)
    found = reader.read(sha)
    if found is not None and found[1] == "tree":
        return reader.tree(sha)
    return reader.tree(commit_field(repo, sha, "tree"))


def remote_urls(repo: Path) -> tuple[str, ...]:
    """The fetch URL of the `origin` remote, if the repository has one (else empty); asked
    of git once per state of the repository's config file."""
    stamp = None
    for config in (repo / ".git" / "config", repo / "config"):
        with contextlib.suppress(OSError):
            info = config.stat()
            stamp = (str(config), info.st_mtime_ns, info.st_size, info.st_ino)
            break
    return _remote_urls(repo, stamp) if stamp else _remote_urls.__wrapped__(repo, stamp)


@functools.lru_cache(maxsize=64)
def _remote_urls(repo: Path, stamp: tuple[str, int, int, int] | None) -> tuple[str, ...]:
    try:
        url = git(repo, "config", "--get", "remote.origin.url").decode().strip()
    except (ToolError, UserError):
        return ()
    return (url,) if url else ()


def changed_files(repo: Path, base: str, head: str) -> list[str]:
    """Paths added, modified or deleted between two commits (renames count as both), in
    git's order, as `git diff --name-only --no-renames` lists them."""
    before, after = commit_tree(repo, base), commit_tree(repo, head)
    return sorted(
        (p for p in before.keys() | after.keys() if before.get(p) != after.get(p)),
        key=lambda p: p.encode("utf-8", "surrogateescape"),
    )


class Snapshot(Protocol):
    """The files of one revision: listing, reading, digests and a materialised copy."""

    label: str

    @property
    def sha(self) -> str | None: ...  # the commit; None for a working tree or no files

    @property
    def files(self) -> Mapping[str, str]: ...  # path -> content id

    @property
    def unreadable(self) -> Mapping[str, str]: ...  # path -> reason (working trees only)

    def read(self, path: str) -> bytes | None: ...

    def materialize(self, dest: Path) -> Path: ...

    def close(self) -> None: ...  # release what reading held


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
        self._files: dict[str, str] = {}
        self._modes: dict[str, str] = {}
        for path, (mode, kind, blob) in commit_tree(repo, sha).items():
            if kind == "blob":  # submodules are not read
                self._files[path], self._modes[path] = blob, mode

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
        """Content of a blob through the repository's shared `git cat-file --batch`."""
        found = gitbatch.reader(self.repo).blob(blob)
        if found is None:
            raise ToolError(f"git cat-file: cannot read blob {blob}")
        return found

    def materialize(self, dest: Path) -> Path:
        """Write the whole tree into `dest` (symlinks kept as symlinks, submodules as empty
        folders) from the repository's reader, as `git checkout-index` would; paths git
        itself refuses (`..`, `.git`) are refused."""
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        entries = sorted(commit_tree(self.repo, self.sha).items())
        for path, _ in entries:
            if any(
                part in ("", ".", "..") or part.casefold() == ".git" for part in path.split("/")
            ):
                raise ToolError(f"git: refusing to write the path {path!r} of {self.label}")
        made: set[str] = set()
        blobs = [(p, mode, oid) for p, (mode, kind, oid) in entries if kind == "blob"]
        contents = gitbatch.reader(self.repo).each_blob([oid for _, _, oid in blobs])
        for (path, mode, _), data in zip(blobs, contents, strict=True):
            target = dest / path
            _folders(dest, path, made)
            if mode == SYMLINK_MODE:
                os.symlink(data, target)
                continue
            fd = os.open(
                target,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                0o755 if mode == "100755" else 0o644,
            )
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        for path, (_, kind, _) in entries:
            if kind == "commit":
                _folders(dest, path + "/", made)
        return dest

    def close(self) -> None:
        """Nothing to release: the repository's reader is shared (`gitbatch`)."""


def _folders(dest: Path, path: str, made: set[str]) -> None:
    """Create the folders leading to `path` under `dest` (never through a symlink)."""
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        if folder not in made:
            os.mkdir(dest / folder, 0o755)
            made.add(folder)


class WorktreeSnapshot:
    """The working tree of a directory as it stands (for `check` without revisions).

    `.git` folders (and `.git` files of worktrees and submodules) are not part of it: a CI
    checkout keeps its credentials there. Paths that cannot be read are listed in
    `unreadable` (path -> reason) instead of being skipped.
    """

    def __init__(self, root: Path) -> None:
        self.root, self.label = root.resolve(), "working tree"
        self.sha: str | None = None
        self._files: dict[str, str] = {}
        self.unreadable: dict[str, str] = {}

        def failed(exc: OSError) -> None:
            self._unreadable(Path(str(exc.filename)), exc)

        for dirpath, dirnames, filenames in os.walk(self.root, onerror=failed):
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            dirnames[:] = sorted(d for d in dirnames if d.casefold() != ".git" and d not in links)
            for name in [*filenames, *links]:  # links to folders are files here, as in git
                if name.casefold() == ".git":
                    continue
                full = Path(dirpath, name)
                try:
                    info = full.lstat()
                except OSError as exc:
                    self._unreadable(full, exc)
                    continue
                self._files[full.relative_to(self.root).as_posix()] = (
                    f"{info.st_size}:{info.st_mtime_ns}"
                )

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
    sha: str | None = None
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
