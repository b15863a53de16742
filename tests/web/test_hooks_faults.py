"""Store or queue down: the intake answers 503 so the forge redelivers
(docs/security.md#fast-durable-acknowledgement, docs/security.md#case-101)."""

from __future__ import annotations

from pathlib import Path

from bot.queue import Queue, default_handlers
from bot.services import Services
from bot.store import Store
from tests.web.appserver import make_config
from tests.web.hookclient import fixture

PR_OPENED = fixture("github/pull_request/opened.payload.json")
# Nothing listens on port 1 of the loopback: connections are refused at once.
DB_DOWN = "postgresql://bot:pw@127.0.0.1:1/bot"
REDIS_DOWN = "redis://127.0.0.1:1/0"


def test_database_unavailable_is_503_and_nothing_queued(tmp_path: Path, serve) -> None:
    config = make_config(tmp_path, database_url=DB_DOWN)
    store = Store.from_url(config.database)
    queue = Queue(config, store, default_handlers(config, store))
    bot = serve(config, Services(config, store, queue))
    status, answer = bot.github("pull_request", PR_OPENED)
    assert (status, answer["status"]) == (503, "error")
    assert "retry" in answer["error"]
    assert queue.size() == 0
    status, answer = bot.get("/readyz")
    assert (status, answer["checks"]) == (503, {"database": "unavailable", "queue": "ok"})
    assert bot.get("/healthz") == (200, {"status": "ok"})


def test_queue_unavailable_is_503_and_the_delivery_is_forgotten(tmp_path: Path, serve) -> None:
    config = make_config(tmp_path, queue_url=REDIS_DOWN)
    bot = serve(config, Services.build(config))
    status, _ = bot.github("pull_request", PR_OPENED, delivery="lost-1")
    assert status == 503
    # Forgotten, so GitHub's redelivery of "lost-1" is accepted instead of called a duplicate.
    assert bot.store.count("deliveries") == 0
    status, answer = bot.get("/readyz")
    assert (status, answer["checks"]) == (503, {"database": "ok", "queue": "unavailable"})


def test_redelivery_after_a_503_is_accepted(tmp_path: Path, serve) -> None:
    down = make_config(tmp_path, queue_url=REDIS_DOWN)
    assert serve(down, None).github("pull_request", PR_OPENED, delivery="later-1")[0] == 503
    up = make_config(tmp_path)  # same database, working queue
    bot = serve(up, None)
    status, answer = bot.github("pull_request", PR_OPENED, delivery="later-1")
    assert (status, answer["status"]) == (202, "queued")
    assert bot.get("/readyz")[0] == 200
