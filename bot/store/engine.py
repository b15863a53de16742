"""Database connections: SQLite (WAL, busy timeout, writer lock) or PostgreSQL (psycopg 3)."""
from __future__ import annotations

import fcntl
import os
import threading
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

def make_engine(url: str, sqlite_synchronous: str = "full") -> Engine:
    """An Engine for `url`: SQLite in WAL mode with a busy timeout, or PostgreSQL via psycopg 3.

    `sqlite_synchronous`: "full" fsyncs every commit (a 202 survives a power cut); "normal"
    leaves it to WAL checkpoints (a 202 survives a crash of the bot, not of the machine).
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        level = {"full": "FULL", "normal": "NORMAL"}[sqlite_synchronous]

        def pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute(f"PRAGMA synchronous={level}")
            cur.close()

        sa.event.listen(engine, "connect", pragmas)
        return engine
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
