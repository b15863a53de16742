"""JSON logs: one masked object per line with the delivery, repository, change, SHA and job."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, Secret
from bot.logs import configure_logging, current_context, log_context
from bot.services import Services
from tests.web.appserver import Bot, make_config
from tests.web.hookclient import SECRET, fixture, github_headers, post

TOKEN = "ghp_" + "T0kenValue" * 4
WEBHOOK = Secret("plain-words-no-pattern-would-see")


@pytest.fixture
def captured() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Configure logging to a StringIO; returns a function giving the parsed lines."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", json=True, stream=buffer, secrets=[WEBHOOK])

    def lines() -> list[dict[str, Any]]:
        text = buffer.getvalue()
        assert text.endswith("\n")
        return [json.loads(line) for line in text.splitlines()]  # each line is valid JSON

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_lines_are_json_with_the_standard_fields(captured: Callable[[], list[Any]]) -> None:
    logging.getLogger("bot.example").warning("plain %s", "message")
    [line] = captured()
    assert set(line) == {"time", "level", "logger", "message"}
    assert line["level"] == "warning" and line["logger"] == "bot.example"
    assert line["message"] == "plain message" and line["time"].endswith("Z")


def test_tokens_and_secrets_are_masked(captured: Callable[[], list[Any]]) -> None:
    log = logging.getLogger("bot.example")
    log.info("cloning with %s and %s", TOKEN, Secret("a-secret-value-123"))
    log.info("key is %s", WEBHOOK.reveal())  # a mistake: the value itself, revealed
    with log_context(repository=f"https://x:{TOKEN}@github.com/acme/shop"):
        log.info("with a field", extra={"token": Secret("extra-secret"), "url": TOKEN})
    try:
        raise RuntimeError(f"push failed: Authorization: Bearer {TOKEN}")
    except RuntimeError:
        log.exception("crashed")
    text = json.dumps(captured())
    for value in (TOKEN, TOKEN[4:], "a-secret-value-123", WEBHOOK.reveal(), "extra-secret"):
        assert value not in text
    lines = captured()
    assert lines[0]["message"] == "cloning with ghp_*** and Secret('***')"
    assert lines[1]["message"] == "key is ***"
    assert lines[2]["token"] == "***" and lines[2]["url"] == "ghp_***"
    assert lines[2]["repository"] == "https://x:***@github.com/acme/shop"
    assert "Bearer ***" in lines[3]["exception"] and "Traceback" in lines[3]["exception"]


def test_context_fields_nest_and_stay_in_their_thread(captured: Callable[[], list[Any]]) -> None:
    log = logging.getLogger("bot.example")
    with log_context(delivery_id="github:1", repository="github.com/acme/shop"):
        with log_context(change_number=7, sha="a" * 40, job_id=None):
            log.info("inner")
            other = threading.Thread(target=lambda: log.info("other thread"))
            other.start()
            other.join()
        log.info("outer")
    log.info("none")
    assert current_context() == {}
    inner, elsewhere, outer, none = captured()
    assert (inner["delivery_id"], inner["repository"], inner["change_number"], inner["sha"]) == (
        "github:1",
        "github.com/acme/shop",
        7,
        "a" * 40,
    )
    assert "job_id" not in inner
    assert "delivery_id" not in elsewhere
    assert "change_number" not in outer and outer["delivery_id"] == "github:1"
    assert "delivery_id" not in none


def test_text_format_is_masked_too() -> None:
    buffer = io.StringIO()
    handler = configure_logging("INFO", json=False, stream=buffer)
    try:
        with log_context(delivery_id="github:2"):
            logging.getLogger("bot.example").info("token %s", TOKEN)
    finally:
        logging.getLogger().removeHandler(handler)
    assert buffer.getvalue().rstrip().endswith("bot.example token ghp_*** [delivery_id=github:2]")


def test_intake_and_job_lines_carry_the_delivery_fields(
    tmp_path: Path,
    captured: Callable[[], list[Any]],
    serve: Callable[[Config, Services | None], Bot],
) -> None:
    bot = serve(
        make_config(
            tmp_path / "data", job_handlers="tests.web.dashboard.loghandlers:logging_handlers"
        ),
        None,
    )
    body = fixture("github/pull_request/opened.payload.json")
    payload = json.loads(body)
    status, _ = post(
        bot.url, "/hooks/github", body, github_headers("pull_request", body, "delivery-logs-1")
    )
    assert status == 202
    huey = bot.services.queue.huey
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
    lines = captured()
    expected = {
        "delivery_id": "github:delivery-logs-1",
        "repository": f"github.com/{payload['repository']['full_name']}",
        "change_number": payload["number"],
        "sha": payload["pull_request"]["head"]["sha"],
    }
    [queued] = [line for line in lines if line["logger"] == "bot.web.hooks"]
    assert queued["message"].startswith("delivery github:delivery-logs-1 queued")
    assert {k: queued[k] for k in expected} == expected
    [job] = [line for line in lines if line["logger"] == "tests.web.dashboard.job"]
    assert job["message"] == "handling review attempt 1"
    assert {k: job[k] for k in expected} == expected
    assert job["job_id"].count(":") == 2  # host:pid:random, one per run of a job
    assert SECRET not in json.dumps(lines)
