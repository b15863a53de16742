"""Crash recovery and graceful drain with real `gitops-bot worker` processes
(docs/security.md#case-99, docs/security.md#case-100)."""

from __future__ import annotations

import signal
from pathlib import Path

from bot.store import delivery_key
from tests.web.appserver import make_config
from tests.web.hookclient import fixture
from tests.web.procs import bot_process, env_for, stop, wait_for, wait_stderr
from tests.conftest import delivery_row

PR_OPENED = fixture("github/pull_request/opened.payload.json")
PUSH = fixture("github/push/with-new-branch.payload.json")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_job_of_a_killed_worker_is_rerun_and_completes_exactly_once(tmp_path: Path, serve) -> None:
    config = make_config(
        tmp_path / "data",
        job_handlers="tests.web.jobdoubles:blocking_handlers",
        job_lease_seconds=1.0,
    )
    bot = serve(config, None)
    data = config.data_dir
    (data / "block").touch()
    assert bot.github("pull_request", PR_OPENED, delivery="crash-1")[0] == 202
    key = delivery_key("github", "crash-1")

    first = bot_process(["worker", "--workers", "1"], env_for(config))
    try:
        wait_for(lambda: lines(data / "started"), what="the first worker to start the job")
        assert bot.store.delivery(key)["outcome"] == "claimed"
        first.kill()  # kill -9, mid-job
        first.wait(10)
    finally:
        stop(first)
    assert bot.store.delivery(key)["outcome"] == "claimed"  # nobody released it
    (data / "block").unlink()

    second = bot_process(["worker", "--workers", "1"], env_for(config))
    try:
        wait_for(
            lambda: bot.store.delivery(key)["outcome"] == "done",
            timeout=30,
            what="the second worker to finish the job",
        )
    finally:
        assert stop(second) == 0
    started = lines(data / "started")
    assert len(started) == 2 and started[0].split()[0] == str(first.pid)
    assert started[1].split()[1] == "2"  # the re-run is attempt 2
    assert len(lines(data / "completed")) == 1  # completed exactly once
    assert bot.store.count("review_runs") == 1
    assert bot.store.delivery(key)["attempts"] == 2


def test_sigterm_drains_the_running_job_and_takes_no_new_one(tmp_path: Path, serve) -> None:
    config = make_config(tmp_path / "data", job_handlers="tests.web.jobdoubles:blocking_handlers")
    bot = serve(config, None)
    data = config.data_dir
    (data / "block").touch()
    assert bot.github("pull_request", PR_OPENED, delivery="drain-1")[0] == 202
    worker = bot_process(["worker", "--workers", "1"], env_for(config))
    try:
        wait_for(lambda: lines(data / "started"), what="the worker to start the job")
        worker.send_signal(signal.SIGTERM)
        wait_stderr(worker, "Shutting down gracefully")
        # While the worker drains, the intake still persists and queues deliveries.
        assert bot.github("push", PUSH, delivery="drain-2")[0] == 202
        (data / "block").unlink()
        assert worker.wait(20) == 0
    finally:
        stop(worker)
    assert bot.store.delivery("github:drain-1")["outcome"] == "done"
    assert bot.store.delivery("github:drain-2")["outcome"] == "queued"
    assert len(lines(data / "completed")) == 1


def test_a_dead_workers_job_is_back_in_the_queue_within_a_minute(tmp_path: Path) -> None:
    """With the default lease, a job whose worker died runs again within 60 s (not after a
    300 s lease): a live worker renews its lease every 15 s, a dead one stops renewing.
    The store's clock is moved by hand; the recovery pass is the real one."""
    from bot.config import Config
    from bot.model import Event, EventKind
    from bot.queue import Queue
    from bot.store import Store

    now = [1_000_000.0]
    config = Config(data_dir=tmp_path, repo_allowlist=("*",))
    store = Store(Store.from_url(config.database).engine, clock=lambda: now[0])
    store.upgrade()
    queue = Queue(config, store, {EventKind.REVIEW: lambda event, ctx: None})
    event = Event(
        "github",
        "lease-1",
        EventKind.REVIEW,
        "opened",
        "github.com",
        "o/r",
        "u",
        number=1,
        head_sha="a" * 40,
    )
    assert store.record_delivery(event, "pull_request")
    key = delivery_key("github", "lease-1")
    assert store.claim(key, "dead-worker", config.job_lease_seconds) == 1
    for _ in range(3):  # renewals while the worker lives
        now[0] += config.job_lease_seconds / 3
        assert store.renew(key, "dead-worker", config.job_lease_seconds)
    died = now[0]
    resumed = None
    while now[0] - died < 120:  # recovery passes, one interval apart
        now[0] += queue.recovery_interval
        if queue.tidy():
            resumed = now[0] - died
            break
    assert resumed is not None and resumed <= 60, resumed
    assert delivery_row(store, key)["outcome"] == "queued" and queue.size() == 1
