"""The store on a real PostgreSQL server: migrations raced by several processes, and the
race-free delivery, lease and run operations that several machines rely on."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.model import Event, EventKind, Finding, Severity
from bot.outcomes import Delivery, ReviewState
from bot.store import Store, delivery_key
from tests.scale.cluster import BotProcess, bot_env, wait_until
from tests.services import PostgresServer
from tests.conftest import delivery_row

THREADS = 8


def race(target: Callable[[int], Any], threads: int = THREADS) -> list[Any]:
    """Run target(i) in `threads` threads released at the same moment; their results."""
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def run(i: int) -> None:
        barrier.wait()
        results[i] = target(i)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


def event(delivery_id: str, number: int = 1, sha: str = "a" * 40) -> Event:
    return Event(
        forge="github",
        delivery_id=delivery_id,
        kind=EventKind.REVIEW,
        action="synchronize",
        host="github.com",
        repo="acme/shop",
        sender="dev",
        number=number,
        head_sha=sha,
    )


def test_migrations_run_once_when_processes_start_together(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    env = bot_env(database_url=postgres_url, data_dir=str(tmp_path / "data"))
    procs = [BotProcess(f"upgrade{i}", ["db", "upgrade"], env, tmp_path / "logs") for i in range(4)]
    wait_until(lambda: not any(p.alive() for p in procs), 60, "the migrations")
    for proc in procs:
        assert proc.proc.returncode == 0, proc.log()
        assert "database at revision" in proc.log()
    database = postgres_url.rsplit("/", 1)[1]
    ddl = postgres_server.ddl(database)
    created = Counter(s.split()[2] for s in ddl if s.startswith("CREATE TABLE"))
    assert created and set(created.values()) == {1}, ddl
    assert {"alembic_version", "deliveries", "review_runs", "audit_events"} <= set(created)
    store = Store.from_url(postgres_url)
    with store.engine.connect() as conn:
        assert len(conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()) == 1
    store.engine.dispose()


def test_concurrent_identical_deliveries_are_recorded_once(postgres_url: str) -> None:
    stores = [Store.from_url(postgres_url) for _ in range(2)]  # two "machines"
    stores[0].upgrade()
    ids = [f"dup-{n}" for n in range(30)]

    def record(i: int) -> list[bool]:
        store = stores[i % 2]
        return [store.record_delivery(event(d), "pull_request") for d in ids]

    results = race(record)
    # For every delivery id exactly one of the eight callers was told "fresh".
    assert [sum(r[n] for r in results) for n in range(len(ids))] == [1] * len(ids)
    assert stores[0].count("deliveries") == len(ids)


def test_one_claim_wins_and_an_expired_claim_is_recovered_once(postgres_url: str) -> None:
    clock = [1_000_000.0]
    stores = [Store.from_url(postgres_url) for _ in range(2)]
    stores[0].upgrade()
    for store in stores:
        store.clock = lambda: clock[0]
    keys = []
    for n in range(20):
        assert stores[0].record_delivery(event(f"lease-{n}", number=n), "pull_request")
        keys.append(delivery_key("github", f"lease-{n}"))

    claims = race(lambda i: [stores[i % 2].claim(k, f"w{i}", 30) for k in keys])
    for n in range(len(keys)):
        winners = [c[n] for c in claims if c[n] is not None]
        assert winners == [1], (keys[n], claims)

    assert race(lambda i: stores[i % 2].expire_claims()) == [[]] * THREADS  # leases live
    clock[0] += 31  # every worker presumed dead
    recovered = race(lambda i: stores[i % 2].expire_claims())
    assert sorted(k for r in recovered for k, _ in r) == sorted(keys)  # each exactly once
    assert {delivery_row(stores[0], k)["outcome"] for k in keys} == {"queued"}
    # The re-run is attempt 2 for whoever claims first.
    again = race(lambda i: stores[i % 2].claim(keys[0], f"x{i}", 30))
    assert sorted(a for a in again if a is not None) == [2]
    for store in stores:
        store.engine.dispose()


def test_concurrent_runs_of_one_sha_share_one_row(postgres_url: str) -> None:
    store = Store.from_url(postgres_url)
    store.upgrade()
    ids = race(lambda i: store.start_run("github", "github.com", "acme/shop", 3, "b" * 40))
    assert len(set(ids)) == 1
    run = store.get_run("github", "github.com", "acme/shop", 3, "b" * 40)
    assert run is not None and run.attempts == THREADS and run.state == "running"
    schema = Finding(Severity.ERROR, "validate", "no schema").to_dict()
    store.finish_run(ids[0], ReviewState.SUCCESS, "ok", [schema], "report", "c-1")
    run = store.get_run("github", "github.com", "acme/shop", 3, "b" * 40)
    assert run is not None and run.findings == [schema] and run.comment_id == "c-1"
    assert run.started_at.tzinfo is not None
    store.engine.dispose()


def test_newest_head_and_requeue_of_a_failed_delivery(postgres_url: str) -> None:
    store = Store.from_url(postgres_url)
    store.upgrade()
    clock = [1_000_000.0]
    store.clock = lambda: clock[0]
    for n, sha in enumerate(("1" * 40, "2" * 40, "3" * 40)):
        clock[0] += 1
        assert store.record_delivery(event(f"head-{n}", number=9, sha=sha), "pull_request")
    assert store.newest_head("github", "github.com", "acme/shop", 9) == "3" * 40
    key = delivery_key("github", "head-0")
    assert store.claim(key, "w", 30) == 1
    assert store.release(key, "w", Delivery.FAILED, error="boom")
    # A redelivery reopens it for exactly one of the racing web processes.
    assert sorted(race(lambda i: store.requeue_final(key))) == [False] * (THREADS - 1) + [True]
    assert delivery_row(store, key)["outcome"] == "queued"
    store.engine.dispose()
