"""Leased locks in the store: one deploy per environment across workers."""

import threading
import time

import pytest
import sqlalchemy as sa

from bot.errors import Transient
from bot.store import Store
from bot.store.schema import locks


@pytest.fixture
def store(tmp_path):
    s = Store.from_url(f"sqlite:///{tmp_path / 'bot.db'}")
    s.upgrade()
    return s


def test_one_holder_at_a_time_and_expired_leases_are_taken_over(store):
    assert store.acquire_lock("deploy:x", "w1", 10)
    assert not store.acquire_lock("deploy:x", "w2", 10)
    assert store.acquire_lock("deploy:x", "w1", 10)  # the holder renews
    assert store.acquire_lock("deploy:y", "w2", 10)  # another environment is independent
    store.release_lock("deploy:x", "w2")  # not the holder: no effect
    assert not store.acquire_lock("deploy:x", "w2", 10)
    now = [1000.0]
    store.clock = lambda: now[0]
    assert store.acquire_lock("deploy:z", "dead", 5)
    assert not store.acquire_lock("deploy:z", "w2", 10)
    now[0] += 6
    assert store.acquire_lock("deploy:z", "w2", 10)  # a dead holder's lease expired


def _expiry(store, name):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(locks.c.expires_at).where(locks.c.name == name)).scalar()


def test_held_refuses_a_second_deploy_and_renews_its_lease(store):
    now = [1000.0]
    store.clock = lambda: now[0]
    inside = threading.Event()
    release = threading.Event()

    def first():
        with store.held("deploy:prod", "w1", ttl=0.3):
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=first)
    worker.start()
    assert inside.wait(5)
    now[0] += 60  # far past the ttl: only a renewal after this keeps the lock
    deadline = time.monotonic() + 5
    while _expiry(store, "deploy:prod") <= now[0]:
        assert time.monotonic() < deadline, "the holder never renewed its lease"
    with pytest.raises(Transient, match="locked by another job"):
        with store.held("deploy:prod", "w2", ttl=0.3):
            pass
    release.set()
    worker.join(5)
    with store.held("deploy:prod", "w2", ttl=0.3):
        pass


def test_held_with_wait_takes_the_lock_once_the_holder_is_done(store):
    inside, release, order = threading.Event(), threading.Event(), []

    def first():
        with store.held("comments:1", "w1", ttl=5):
            inside.set()
            release.wait(5)
            order.append("w1 done")

    worker = threading.Thread(target=first)
    worker.start()
    assert inside.wait(5)
    threading.Timer(0.3, release.set).start()
    with store.held("comments:1", "w2", ttl=5, wait=5):
        order.append("w2 in")
    worker.join(5)
    assert order == ["w1 done", "w2 in"]
    with store.held("comments:1", "w3", ttl=5):
        with pytest.raises(Transient):
            with store.held("comments:1", "w4", ttl=5, wait=0.2):
                pass
