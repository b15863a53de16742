"""Group commit for SQLite: one fsync of the write-ahead log makes many commits durable.

With `synchronous=FULL` every commit fsyncs the WAL while holding the database's write lock,
so writers queue behind each other's fsyncs (a millisecond or more on a busy disk). Here
commits are written with `synchronous=NORMAL` (no fsync of their own) and each writer then
waits until the WAL has been fsynced *after* its commit: whoever fsyncs first covers every
commit made before it, in any thread or process. A commit is acknowledged only once it is
on disk, as with FULL; only the number of fsyncs changes.

Two counters in a small file next to the database, changed under file locks: `committed`
(incremented by each commit, inside the write lock, so in commit order) and `synced` (the
highest commit known to be on disk). A checkpoint that copies the WAL into the database
file syncs both files itself (SQLite does so with NORMAL), so a commit already checkpointed
is durable too.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
from collections.abc import Callable

_PAIR = struct.Struct("<QQ")  # committed, synced


class GroupSync:
    """Durability of commits to one SQLite database in WAL mode (see the module doc)."""

    def __init__(self, database: str) -> None:
        self.wal = database + "-wal"
        self._paths = (database + ".sync", database + ".sync.lock")
        self._fds: tuple[int, int] | None = None  # opened on first use, as the database is
        # flock excludes processes, not threads sharing a descriptor: one thread lock each
        self._state_threads = threading.Lock()
        self._sync_threads = threading.Lock()
        self._wal_fd: int | None = None
        self.fsyncs = 0  # done by this process (tests)

    def _files(self) -> tuple[int, int]:
        if self._fds is None:
            state, lock = (os.open(p, os.O_RDWR | os.O_CREAT, 0o600) for p in self._paths)
            self._fds = (state, lock)
        return self._fds

    def _update(self, change: Callable[[int, int], tuple[int, int]]) -> tuple[int, int]:
        with self._state_threads:
            state = self._files()[0]
            fcntl.flock(state, fcntl.LOCK_EX)
            try:
                raw = os.pread(state, _PAIR.size, 0)
                old = _PAIR.unpack(raw) if len(raw) == _PAIR.size else (0, 0)
                new = change(*old)
                if new != old:
                    os.pwrite(state, _PAIR.pack(*new), 0)
                return new
            finally:
                fcntl.flock(state, fcntl.LOCK_UN)

    def counters(self) -> tuple[int, int]:
        """(commits counted, commits known to be on disk)."""
        return self._update(lambda done, synced: (done, synced))

    def committed(self) -> int:
        """Count one commit and return its number; call inside the database write lock,
        right after the commit."""
        return self._update(lambda done, synced: (done + 1, synced))[0]

    def durable(self, number: int) -> None:
        """Return once commit `number` is on disk (fsyncing the WAL unless another writer
        already did so after that commit)."""
        with self._sync_threads:
            lock = self._files()[1]
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                target, synced = self.counters()
                if synced >= number:
                    return  # someone's fsync started after our commit
                self._fsync_wal()  # every commit up to `target` is in the WAL file
                self._update(lambda done, synced: (done, max(synced, target)))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _fsync_wal(self) -> None:
        try:
            current = os.stat(self.wal).st_ino
        except FileNotFoundError:
            return  # no WAL: every commit was checkpointed (and synced) into the database
        if self._wal_fd is not None and os.fstat(self._wal_fd).st_ino != current:
            os.close(self._wal_fd)
            self._wal_fd = None
        if self._wal_fd is None:
            self._wal_fd = os.open(self.wal, os.O_RDONLY)
        os.fsync(self._wal_fd)
        self.fsyncs += 1
