"""Redis faults under scale-out mode (docs/security.md#case-101): real `gitops-bot web` and
`gitops-bot worker` processes on PostgreSQL, a private redis-server crashed and restarted."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.queue import make_huey
from bot.store import Store, delivery_key
from tests.scale.cluster import BotProcess, Web, bot_env, get_json, wait_until
from tests.services import RedisServer
from tests.web.hookclient import SECRET, fixture, github_headers, post
from tests.conftest import delivery_row

PR_OPENED = json.loads(fixture("github/pull_request/opened.payload.json"))


def delivery(web: Web, number: int, delivery_id: str | None = None) -> tuple[int, str, str]:
    """POST an `opened` delivery for PR `number`: (HTTP status, answer status, delivery id)."""
    data = json.loads(json.dumps(PR_OPENED))
    data["number"] = data["pull_request"]["number"] = number
    data["pull_request"]["head"]["sha"] = f"{number:040x}"
    body = json.dumps(data).encode()
    delivery_id = delivery_id or str(uuid.uuid4())
    code, answer = post(
        web.url, "/hooks/github", body, github_headers("pull_request", body, delivery_id)
    )
    return code, str(answer.get("status")), delivery_id


class Deployment:
    """One web and (on demand) workers, on a test's own database and Redis."""

    def __init__(self, tmp: Path, database_url: str, redis: RedisServer, **settings: str) -> None:
        self.tmp, self.redis = tmp, redis
        self.settings = {
            "database_url": database_url,
            "queue_url": redis.url(0),
            "github_webhook_secret": SECRET,
            "repo_allowlist": "github.com/Codertocat/*",
            "job_handlers": "bot.queue:default_handlers",
            **settings,
        }
        self.store = Store.from_url(database_url)
        self.huey = make_huey(Config(queue_url=redis.url(0)))
        self.procs: list[BotProcess] = []
        self.web = self.start_web()

    def env(self, name: str) -> dict[str, str]:
        return bot_env(**self.settings, data_dir=str(self.tmp / name))

    def start_web(self) -> Web:
        web = Web("web", self.env("web"), self.tmp / "logs")
        self.procs.append(web)
        wait_until(web.ready, 60, "the web process to be ready")
        return web

    def start_worker(self, name: str = "worker", threads: int = 1) -> BotProcess:
        worker = BotProcess(
            name, ["worker", "--workers", str(threads)], self.env(name), self.tmp / "logs"
        )
        self.procs.append(worker)
        return worker

    def outcome(self, delivery_id: str) -> str | None:
        row = self.store.delivery(delivery_key("github", delivery_id))
        return None if row is None else str(row["outcome"])

    def close(self) -> None:
        for proc in self.procs:
            proc.stop(timeout=10)
        self.store.engine.dispose()


@pytest.fixture
def deploy(
    tmp_path: Path, postgres_url: str, private_redis: Callable[..., RedisServer]
) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def make(persistent: bool = True, **settings: str) -> Deployment:
        made.append(Deployment(tmp_path, postgres_url, private_redis(persistent), **settings))
        return made[-1]

    yield make
    for deployment in made:
        deployment.close()


def test_queued_jobs_survive_a_redis_crash_with_append_only_file(
    deploy: Callable[..., Deployment],
) -> None:
    bot = deploy(job_lease_seconds="300")  # no start-up reconcile: the jobs must come from Redis
    sent = [delivery(bot.web, n) for n in range(1, 6)]
    assert [(code, status) for code, status, _ in sent] == [(202, "queued")] * 5
    assert bot.huey.pending_count() == 5

    bot.redis.stop(signal.SIGKILL)  # a crash: no shutdown save
    bot.redis.start()  # same port, same directory
    assert bot.huey.pending_count() == 5

    worker = bot.start_worker()
    wait_until(
        lambda: all(bot.outcome(d) == "done" for _, _, d in sent), 30, "the surviving jobs to run"
    )
    assert bot.store.count("review_runs") == 5
    assert {delivery_row(bot.store, delivery_key("github", d))["attempts"] for _, _, d in sent} == {
        1
    }
    # The web process reconnects by itself after the restart.
    code, status, later = delivery(bot.web, 6)
    assert (code, status) == (202, "queued")
    wait_until(lambda: bot.outcome(later) == "done", 30, "a delivery after the restart")
    assert worker.stop() == 0, worker.log()
    assert bot.huey.pending_count() == 0


def test_redis_down_answers_503_and_the_redelivery_is_accepted(
    deploy: Callable[..., Deployment],
) -> None:
    bot = deploy()
    bot.redis.stop()
    started = time.monotonic()
    code, status, delivery_id = delivery(bot.web, 7)
    assert (code, status) == (503, "error")
    assert time.monotonic() - started < 3  # well inside GitHub's 10 s; it records the failure
    code, ready = get_json(bot.web.url, "/readyz")
    assert code == 503 and ready["checks"] == {"database": "ok", "queue": "unavailable"}
    # Nothing half-recorded: the forge's redelivery (same id) must not look like a duplicate.
    assert bot.outcome(delivery_id) is None
    assert bot.web.alive()

    bot.redis.start()
    assert delivery(bot.web, 7, delivery_id)[:2] == (202, "queued")
    assert delivery(bot.web, 7, delivery_id)[:2] == (200, "duplicate")
    assert bot.huey.pending_count() == 1
    assert get_json(bot.web.url, "/readyz")[0] == 200


def test_jobs_lost_with_redis_data_are_re_enqueued_by_a_running_worker(
    deploy: Callable[..., Deployment], tmp_path: Path
) -> None:
    """Redis without persistence restarts empty while a worker runs: the worker re-derives
    the lost jobs from the store once the queue is idle, without a restart of its own."""
    # a lease long enough that a loaded machine's slow heartbeat never lets the running
    # job's claim expire (that would re-enqueue it as a fourth job)
    bot = deploy(
        persistent=False,
        job_lease_seconds="6",
        job_handlers="tests.web.jobdoubles:blocking_handlers",
    )
    data = tmp_path / "worker"
    data.mkdir()
    (data / "block").touch()
    worker = bot.start_worker()
    first = delivery(bot.web, 1)[2]
    wait_until(lambda: (data / "started").exists(), 30, "the worker to start the first job")
    lost = [delivery(bot.web, n)[2] for n in range(2, 5)]  # wait in Redis behind it
    assert bot.huey.pending_count() == 3

    bot.redis.stop(signal.SIGKILL)
    bot.redis.start()
    assert bot.huey.pending_count() == 0  # the queue lost them; the store did not
    assert {bot.outcome(d) for d in lost} == {"queued"}
    (data / "block").unlink()

    wait_until(
        lambda: all(bot.outcome(d) == "done" for d in [first, *lost]),
        30,
        "the lost jobs to be re-enqueued and run",
    )
    assert worker.alive()
    log = worker.log(10**6)
    assert log.index("Huey consumer started") < log.index("re-enqueued 3 interrupted job")
    assert len((data / "completed").read_text().splitlines()) == 4
    assert worker.stop() == 0, worker.log()
