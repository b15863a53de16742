"""Leased locks in the database (mixed into `bot.store.Store`): the holder renews its lease;
a dead holder's lock expires, so a crash never blocks an environment for good."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.errors import Transient
from bot.store.schema import locks
from bot.ticker import every


class LockRecords:
    """Named locks with an owner and an expiry; needs `_write`, `_insert` and `clock`."""

    # provided by Store
    clock: Callable[[], float]
    _write: Callable[[], AbstractContextManager[Connection]]
    _insert: Callable[[sa.Table], Any]

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        """Take `name` for `ttl` seconds if it is free, expired or already ours."""
        now = self.clock()
        stmt = self._insert(locks).values(name=name, owner=owner, expires_at=now + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_=dict(owner=owner, expires_at=now + ttl),
            where=(locks.c.expires_at < now) | (locks.c.owner == owner),
        ).returning(locks.c.owner)
        with self._write() as conn:
            return conn.execute(stmt).first() is not None

    def release_lock(self, name: str, owner: str) -> None:
        """Give `name` back (only if we still hold it)."""
        with self._write() as conn:
            conn.execute(locks.delete().where((locks.c.name == name) & (locks.c.owner == owner)))

    @contextmanager
    def held(
        self, name: str, owner: str, ttl: float = 120.0, *, wait: float = 0.0
    ) -> Iterator[None]:
        """Hold `name` while the block runs, renewing the lease. When it is taken, wait up
        to `wait` seconds for it, then raise Transient (the job is retried later, so deploys
        queue up instead of running side by side)."""
        deadline = time.monotonic() + wait
        pause = 0.02
        while not self.acquire_lock(name, owner, ttl):
            if time.monotonic() + pause > deadline:
                raise Transient(f"{name} is locked by another job; will retry", retry_after=10)
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        try:
            with every(ttl / 3, lambda: self.acquire_lock(name, owner, ttl), f"lock-{name}"):
                yield
        finally:
            self.release_lock(name, owner)
