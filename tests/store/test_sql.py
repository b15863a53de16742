"""The SQL store: migrations (packaged, idempotent, concurrent), runs, audit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.migrations import current
from bot.model import Event, EventKind, Finding, Severity
from bot.outcomes import Delivery, ReviewState
from bot.store import Store, delivery_key, metadata

ROOT = Path(__file__).resolve().parents[2]


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from bot.migrations import alembic_config

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


HEAD_REVISION = _head_revision()


def test_migrations_create_exactly_the_declared_schema(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/a.db")
    assert current(store.engine) is None
    store.upgrade()
    store.upgrade()  # idempotent
    assert current(store.engine) == HEAD_REVISION
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/w.db")
    store.upgrade()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        # durable commits by default: SQLite writes them (NORMAL) and the store fsyncs the
        # WAL before a write returns, one fsync for every commit waiting (group commit)
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    assert store._sync is not None
    normal = Store.from_url(f"sqlite:///{tmp_path}/w.db", "normal")
    with normal.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    assert normal._sync is None
    memory = Store.from_url("sqlite://")  # no file, no WAL: SQLite's own FULL
    with memory.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    assert memory._sync is None


def test_concurrent_upgrades_from_several_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    code = f"from bot.store import Store; Store.from_url({url!r}).upgrade()"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT) for _ in range(4)]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    assert current(Store.from_url(url).engine) == HEAD_REVISION


def test_runs_are_unique_per_sha_and_listed_newest_first(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/r.db")
    store.upgrade()
    first = store.start_run("github", "github.com", "a/b", 1, "a" * 40)
    bad = Finding(Severity.ERROR, "policy", "bad").to_dict()
    store.finish_run(first, ReviewState.FAILURE, "1 error", [bad], "# report", "c-1")
    again = store.start_run("github", "github.com", "a/b", 1, "a" * 40)
    other = store.start_run("gitlab", "gitlab.com", "g/p", 7, "b" * 40)
    assert again == first and other != first
    run = store.get_run("github", "github.com", "a/b", 1, "a" * 40)
    assert run is not None and (run.state, run.attempts, run.finished_at) == ("running", 2, None)
    assert [r.id for r in store.latest_runs()] == [other, first]
    assert [r.repo for r in store.latest_runs(repo="a/b")] == ["a/b"]
    store.finish_run(first, ReviewState.SUCCESS, "ok", [], "report", "c-1")
    done = store.get_run("github", "github.com", "a/b", 1, "a" * 40)
    assert done is not None and done.state == "success" and done.started_at.tzinfo is not None


def test_audit_log(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/l.db")
    store.upgrade()
    store.audit("alice", "deploy.refused", "github.com/a/b", 3, "c" * 40, {"why": Path("x")})
    [entry] = store.audit_log()
    assert (entry["actor"], entry["number"], entry["detail"]) == ("alice", 3, {"why": "x"})


def test_pending_jobs_counts_queued_and_claimed_up_to_a_limit(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/p.db")
    store.upgrade()
    for n in range(6):
        assert store.record_delivery(_event(f"d-{n}"), "pull_request")
    keys = [delivery_key("github", f"d-{n}") for n in range(6)]
    assert store.claim(keys[0], "w", 60) == 1  # claimed: still pending
    assert store.claim(keys[1], "w", 60) == 1
    assert store.release(keys[1], "w", Delivery.DONE)  # final: not pending
    assert store.claim(keys[2], "w", 60) == 1
    assert store.release(keys[2], "w", Delivery.QUEUED, run_after=0)  # a retry: pending
    assert store.pending_jobs(100) == 5
    assert store.pending_jobs(3) == 3  # stops at the limit
    with store.engine.connect() as conn:  # and walks the outcome index, not the table
        plan = " ".join(
            str(row)
            for row in conn.execute(
                sa.text(
                    "EXPLAIN QUERY PLAN SELECT 1 FROM deliveries "
                    "WHERE outcome IN ('queued', 'claimed') LIMIT 3"
                )
            )
        )
    assert "COVERING INDEX ix_deliveries_outcome" in plan


def _event(delivery: str) -> Event:
    return Event(
        "github",
        delivery,
        EventKind.REVIEW,
        "opened",
        "github.com",
        "a/b",
        "u",
        number=1,
        head_sha="a" * 40,
    )
