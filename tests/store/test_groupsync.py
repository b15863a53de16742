"""Group commit: a write returns only once it is on disk, and one fsync serves every commit
waiting for it."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from bot.model import Event, EventKind
from bot.store import Store


def _event(n: int) -> Event:
    return Event(
        forge="github",
        delivery_id=f"d{n}",
        kind=EventKind.REVIEW,
        host="github.com",
        repo="o/r",
        action="opened",
        number=1,
        head_sha="a" * 40,
        sender="s",
    )


def test_every_write_returns_durable(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    store.upgrade()
    assert store._sync is not None
    for n in range(5):
        assert store.record_delivery(_event(n), "pull_request")
        committed, synced = store._sync.counters()
        assert synced == committed  # nothing acknowledged before its fsync
    assert store.count("deliveries") == 5


def test_one_fsync_serves_every_commit_that_waited_for_it(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    store = Store.from_url(f"sqlite:///{db}")
    store.upgrade()
    assert store._sync is not None
    before = store._sync.counters()[0]
    fsyncs = store._sync.fsyncs
    # another writer (here: the test) is in the middle of an fsync: hold the sync lock
    holder = os.open(f"{db}.sync.lock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    writers = [
        threading.Thread(target=store.record_delivery, args=(_event(n), "pr")) for n in range(4)
    ]
    for w in writers:
        w.start()
    deadline = time.monotonic() + 30
    while store._sync.counters()[0] < before + 4 and time.monotonic() < deadline:
        time.sleep(0.01)  # all four commits are written, none acknowledged yet
    assert store._sync.counters()[0] == before + 4
    assert all(w.is_alive() for w in writers)
    fcntl.flock(holder, fcntl.LOCK_UN)
    os.close(holder)
    for w in writers:
        w.join(30)
    assert store._sync.fsyncs - fsyncs == 1
    assert store.count("deliveries") == 4
    committed, synced = store._sync.counters()
    assert synced == committed
