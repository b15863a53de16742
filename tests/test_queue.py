"""Jobs: the handler seam, coalescing to the newest head, retries, dead letters, leases."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot.errors import ConfigError, Transient
from bot.pipeline.handlers import pipeline_handlers
from bot.queue import MAX_ATTEMPTS, RETRY_WINDOW, Queue, backoff, default_handlers
from bot.services import Services, load_handlers
from bot.model import Event, EventKind
from bot.outcomes import ReviewState
from bot.store import Store, delivery_key
from tests.e2e.loop import REPO as LOOP_REPO, Loop, pr_payload, running_loop
from tests.web.appserver import Bot, make_config
from tests.web.hookclient import SHA_A, SHA_B, fixture, with_head
from tests.web.jobdoubles import Flaky
from tests.conftest import delivery_row

PR_OPENED = fixture("github/pull_request/opened.payload.json")
PR_SYNC = fixture("github/pull_request/synchronize.payload.json")
REPO = ("github", "github.com", "Codertocat/Hello-World", 2)


def with_handler(bot: Bot, handler) -> Queue:
    """A second consumer-side queue on the same store and queue files, with `handler`."""
    return Queue(bot.services.config, bot.store, {EventKind.REVIEW: handler})


def drain(queue: Queue) -> list[str]:
    results = []
    while (task := queue.huey.dequeue()) is not None:
        results.append(queue.huey.execute(task))
    return results


def test_noop_handlers_record_a_run_and_nothing_else(bot: Bot) -> None:
    """The seam the review pipeline plugs into; the no-op set only leaves a 'skipped' run."""
    assert bot.services.config.job_handlers == "bot.queue:default_handlers"
    assert bot.github("pull_request", PR_OPENED, delivery="seam-1")[0] == 202
    assert bot.drain() == ["done"]
    run = bot.store.get_run(*REPO, "ec26c3e57ca3a959ca5aad62de7213c562f8c821")
    assert run is not None and run.state == "skipped" and run.finished_at is not None
    assert "not configured" in run.status_line
    assert bot.store.delivery("github:seam-1")["outcome"] == "done"


def test_pipeline_is_the_default_handler_set() -> None:
    from bot.config import Config

    assert Config().job_handlers == "bot.pipeline.handlers:pipeline_handlers"


def test_noop_handlers_audit_pushes(bot: Bot) -> None:
    assert bot.github("push", fixture("github/push/with-new-branch.payload.json"))[0] == 202
    assert bot.drain() == ["done"]
    assert [e["action"] for e in bot.store.audit_log()] == ["push.unhandled"]
    assert bot.store.count("review_runs") == 0


def test_handlers_come_from_the_config(tmp_path: Path) -> None:
    config = make_config(tmp_path, job_handlers="tests.web.jobdoubles:always_transient")
    services = Services.build(config)
    assert set(services.queue.handlers) == {EventKind.REVIEW}
    assert set(default_handlers(config, services.store)) == set(EventKind)
    with pytest.raises(ConfigError, match="GITOPS_BOT_JOB_HANDLERS"):
        load_handlers(config.with_(job_handlers="no.such.module:factory"), services.store)


def test_an_older_head_is_skipped_when_a_newer_one_was_delivered(bot: Bot) -> None:
    assert bot.github("pull_request", with_head(PR_SYNC, SHA_A), delivery="head-a")[0] == 202
    assert bot.github("pull_request", with_head(PR_SYNC, SHA_B), delivery="head-b")[0] == 202
    assert bot.drain() == ["superseded", "done"]
    assert bot.store.get_run(*REPO, SHA_A) is None
    assert bot.store.get_run(*REPO, SHA_B).state == "skipped"
    assert bot.store.delivery("github:head-a")["outcome"] == "superseded"


def test_same_head_twice_gives_one_run_row(bot: Bot) -> None:
    assert bot.github("pull_request", PR_OPENED)[0] == 202
    assert bot.github("pull_request", PR_SYNC)[0] == 202
    assert bot.drain() == ["done", "done"]
    assert bot.store.count("review_runs") == 1


def test_transient_errors_are_retried_with_backoff_then_succeed(bot: Bot) -> None:
    flaky = Flaky(Transient("502 from forge"), Transient("rate limited", retry_after=120))
    queue = with_handler(bot, flaky)
    assert bot.github("pull_request", PR_OPENED, delivery="flaky-1")[0] == 202
    key = delivery_key("github", "flaky-1")
    data = bot.store.delivery(key)["event_data"]
    now = bot.store.clock()
    assert queue.run(key, data) == "retry"
    row = bot.store.delivery(key)
    assert row["outcome"] == "queued" and "502" in row["error"]
    assert 9 <= row["run_after"] - now <= 12  # the default 10 s
    # Re-enqueued with an ETA (next to the intake's original message, not run here).
    assert [t.eta is not None for t in queue.huey.pending()] == [False, True]
    assert queue.run(key, data) == "retry"
    assert bot.store.delivery(key)["run_after"] - now >= 239  # server's 120 s, doubled
    assert queue.run(key, data) == "done"
    assert flaky.calls == 3 and bot.store.delivery(key)["attempts"] == 3


def test_backoff_grows_and_never_undercuts_the_server() -> None:
    assert [backoff(10, n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert backoff(10, 20) == 900
    assert backoff(3600, 1) == 3600  # x-ratelimit-reset an hour away: wait the hour


def test_poison_job_goes_to_the_dead_letter_state(bot: Bot) -> None:
    """A job that keeps failing goes to the dead letters once it failed MAX_ATTEMPTS times
    and an hour has passed since it came in; a burst of failures in minutes does not."""
    flaky = Flaky(*[Transient("down")] * (MAX_ATTEMPTS + 2))
    queue = with_handler(bot, flaky)
    assert bot.github("pull_request", PR_OPENED, delivery="poison-1")[0] == 202
    key = delivery_key("github", "poison-1")
    data = bot.store.delivery(key)["event_data"]
    outcomes = [queue.run(key, data) for _ in range(MAX_ATTEMPTS + 1)]
    assert outcomes == ["retry"] * (MAX_ATTEMPTS + 1)  # all within the hour
    later = Store(bot.store.engine, clock=lambda: time.time() + RETRY_WINDOW)
    hour_on = Queue(bot.services.config, later, {EventKind.REVIEW: flaky})
    assert hour_on.run(key, data) == "dead"
    assert bot.store.delivery(key)["outcome"] == "dead"
    # Other deliveries keep flowing.
    assert bot.github("pull_request", with_head(PR_OPENED, SHA_B), delivery="next-1")[0] == 202


def test_a_bug_fails_at_once_and_a_redelivery_retries_it(bot: Bot) -> None:
    bug = Flaky(RuntimeError("bug"))
    queue = with_handler(bot, bug)
    assert bot.github("pull_request", PR_OPENED, delivery="bug-1")[0] == 202
    assert drain(queue) == ["failed"]
    assert "RuntimeError: bug" in bot.store.delivery("github:bug-1")["error"]
    # GitHub redelivery keeps the GUID: the existing job is retried, no second row
    # (docs/security.md#case-79).
    status, answer = bot.github("pull_request", PR_OPENED, delivery="bug-1")
    assert (status, answer["status"]) == (202, "requeued")
    assert drain(queue) == ["done"]
    assert bot.store.count("deliveries") == 1
    assert queue.handlers[EventKind.REVIEW] is bug and bug.calls == 2


def test_a_claimed_job_is_not_run_twice(bot: Bot) -> None:
    assert bot.github("pull_request", PR_OPENED, delivery="claim-1")[0] == 202
    key = delivery_key("github", "claim-1")
    assert bot.store.claim(key, "other-worker", 60) == 1
    assert bot.drain() == ["not-claimed"]
    assert bot.store.delivery(key)["worker"] == "other-worker"


def test_an_expired_claim_is_recovered(tmp_path: Path) -> None:
    clock = [1_000_000.0]
    services = Services.build(make_config(tmp_path))
    services.store.clock = lambda: clock[0]
    ev = Event(
        forge="github",
        delivery_id="lease-1",
        kind=EventKind.REVIEW,
        action="opened",
        host="github.com",
        repo="Codertocat/Hello-World",
        sender="u",
        number=2,
        head_sha=SHA_A,
    )
    assert services.store.record_delivery(ev, "pull_request")
    assert services.store.claim("github:lease-1", "dead-worker", 30) == 1
    assert services.queue.recover() == 0  # lease still running
    clock[0] += 31
    assert services.queue.recover() == 1  # worker presumed dead
    assert services.queue.size() == 1
    assert services.queue.recover() == 0  # not enqueued twice
    data = delivery_row(services.store, "github:lease-1")["event_data"]
    assert services.queue.run("github:lease-1", data) == "done"
    assert delivery_row(services.store, "github:lease-1")["attempts"] == 2


def dead_jobs(kind: str = "review") -> float:
    return REGISTRY.get_sample_value("gitops_bot_jobs_dead_total", {"kind": kind}) or 0.0


def deliver_review(loop: Loop, delivery: str) -> tuple[str, str]:
    """Open PR #1 (the example's `change` branch) on the forge and deliver its event; the
    delivery key and the head SHA."""
    head, base = loop.head("change"), loop.head("main")
    loop.forge.add_pull(
        LOOP_REPO, 1, head_sha=head, base_sha=base, files=["apps/web/deployment.yaml"]
    )
    assert (
        loop.deliver("pull_request", pr_payload("opened", head, base), delivery=delivery)[0] == 202
    )
    return delivery_key("github", delivery), head


def test_a_dead_review_ends_in_an_error_status_and_is_counted(tmp_path: Path) -> None:
    """A review whose forge keeps failing for an hour goes to the dead letters; its change
    gets a final `error` status saying how to try again, not `pending` for ever
    (docs/security.md#case-90)."""
    with running_loop(tmp_path) as loop:
        loop.forge.fail("GET", r"/pulls/1/reviews$", 503, times=MAX_ATTEMPTS)
        key, head = deliver_review(loop, "dead-review-1")
        data = delivery_row(loop.services.store, key)["event_data"]
        # Every attempt an hour after the delivery: the last try goes to the dead letters.
        later = Store(loop.services.store.engine, clock=lambda: time.time() + RETRY_WINDOW)
        queue = Queue(loop.services.config, later, loop.services.queue.handlers)
        before = dead_jobs()
        outcomes = [queue.run(key, data) for _ in range(MAX_ATTEMPTS)]
        assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["dead"]
        assert dead_jobs() == before + 1
        statuses = loop.statuses(head)
        assert [s["state"] for s in statuses] == ["pending"] * MAX_ATTEMPTS + ["error"]
        assert statuses[-1]["description"] == (
            "gitops-bot could not finish the review: the forge or a service kept failing; "
            "comment /gitops-bot recheck to try again"
        )
        # the run it started is not left "running" on the dashboard
        event = data if isinstance(data, dict) else {}
        run = loop.services.store.get_run("github", event["host"], LOOP_REPO, 1, head)
        assert run is not None and run.state == ReviewState.ERROR
        assert run.status_line == statuses[-1]["description"]


def test_a_review_bug_ends_in_an_error_status_even_if_the_forge_fails_then(tmp_path: Path) -> None:
    """A non-transient error fails the job at once with a final `error` status; a forge
    failure while saying so is logged, never raised (the outcome stays `failed`)."""
    with running_loop(tmp_path) as loop:
        # 422 on the pending status: a ForgeError outside the review's own error handling
        loop.forge.fail("POST", r"/statuses/", 422, times=1)
        key, head = deliver_review(loop, "bug-review-1")
        before = dead_jobs()
        assert loop.work() == ["failed"]
        assert dead_jobs() == before + 1
        [status] = loop.statuses(head)
        assert status["state"] == "error"
        assert status["description"].startswith(
            "gitops-bot could not finish the review: the forge refused a request;"
        )
        # again, and the forge refuses the last word too: still one failed job, no raise
        loop.forge.fail("POST", r"/statuses/", 422, times=2)
        assert (
            loop.deliver(
                "pull_request",
                pr_payload("opened", head, loop.head("main")),
                delivery="bug-review-1",
            )[1]["status"]
            == "requeued"
        )
        assert loop.work() == ["failed"]
        assert dead_jobs() == before + 2
        assert delivery_row(loop.services.store, key)["outcome"] == "failed"
        assert [s["state"] for s in loop.statuses(head)] == ["error"]


def test_a_review_that_crashes_ends_with_one_status_and_one_comment(tmp_path: Path) -> None:
    """A bug inside the review (here: a login that is a list breaks the adapter) gives the change
    one final `error` status saying how to try again, not an "internal error" first and the
    last word after it (docs/security.md#case-61), and one comment."""
    with running_loop(tmp_path) as loop:
        _, head = deliver_review(loop, "crash-review-1")
        broken = [{"id": 1, "user": {"login": ["x"]}, "state": "APPROVED", "commit_id": head}]
        loop.forge.fail("GET", r"/pulls/1/reviews", 200, body=broken, times=5)
        assert loop.work() == ["failed"]
        states = [(s["state"], s["description"]) for s in loop.statuses(head)]
        assert [s for s, _ in states] == ["pending", "error"], states
        assert states[1][1].startswith("gitops-bot could not finish the review: internal error;")
        [comment] = loop.comments()
        assert "internal error" in comment["body"]


@pytest.mark.parametrize(
    ("failure", "body", "outcome"),
    [
        pytest.param(404, None, "done", id="user-fixable"),
        pytest.param(
            200, [{"id": 1, "user": {"login": ["x"]}, "state": "APPROVED"}], "failed", id="crash"
        ),
    ],
)
def test_a_review_failing_while_the_disk_is_short_is_retried_and_says_nothing(
    tmp_path: Path, failure: int, body: object, outcome: str
) -> None:
    """A tool failing on a full disk does not always say so (git checkout prints "unable to
    write file X", no cause), so a review that fails while the data disk is short of space
    is the disk's fault: retried, with no comment and no final status on the change
    (docs/security.md#case-102). With space, the same failure is posted."""
    with running_loop(tmp_path) as loop:
        key, head = deliver_review(loop, f"short-disk-{failure}")
        loop.forge.fail("GET", r"/pulls/1/reviews", failure, body=body, times=2)
        store = loop.services.store
        data = delivery_row(store, key)["event_data"]
        # The disk filled after the job was claimed: the review's handlers find it short.
        short = loop.services.config.with_(data_min_free_mb=2**40)
        queue = Queue(loop.services.config, store, pipeline_handlers(short, store))
        assert queue.run(key, data) == "retry"
        assert loop.comments() == []
        assert [s["state"] for s in loop.statuses(head)] == ["pending"]
        row = delivery_row(store, key)
        assert row["outcome"] == "queued" and "the bot's disk filled" in row["error"]
        # The same failure with space on the disk is the change's: said, once.
        queue = Queue(loop.services.config, store, pipeline_handlers(loop.services.config, store))
        assert queue.run(key, data) == outcome
        assert len(loop.comments()) == 1
