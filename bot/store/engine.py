"""Database connections: SQLite (WAL, busy timeout, writer lock) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import fcntl
import os
import threading
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

GROUP_SYNC = "gitops_bot_group_sync"


def make_engine(url: str, sqlite_synchronous: str = "full") -> Engine:
    """An Engine for `url`: SQLite in WAL mode with a busy timeout, or PostgreSQL via psycopg 3.

    `sqlite_synchronous`: "full" makes every commit durable before it returns (a 202
    survives a power cut) — for a file in WAL mode by group commit (`GROUP_SYNC` is set
    among the engine's execution options; `groupsync.py`), otherwise by SQLite's FULL;
    "normal" leaves it to WAL checkpoints (a 202 survives a crash of the bot, not of the
    machine).
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        full = {"full": True, "normal": False}[sqlite_synchronous]
        on_file = engine.url.database not in (None, "", ":memory:")

        def pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            mode = str(cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
            cur.execute("PRAGMA busy_timeout=30000")
            # group commit fsyncs the WAL itself; without WAL, FULL is the only safe choice
            level = "FULL" if full and not (on_file and mode == "wal") else "NORMAL"
            cur.execute(f"PRAGMA synchronous={level}")
            cur.close()

        sa.event.listen(engine, "connect", pragmas)
        return engine.execution_options(**{GROUP_SYNC: full and on_file})
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})


class WriteLock:
    """Serialises SQLite writers of one file: a thread lock plus flock across processes.

    SQLite's own busy handler sleeps 1, 2, 5, 10... ms when the file is locked; with several
    gunicorn workers that turns into tens of ms of p99. A kernel lock wakes the next writer
    the moment the previous commit ends. `path=None` (PostgreSQL) locks nothing.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self.path is None:
            return
        self._thread_lock.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        if self.path is None:
            return
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


def utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value
