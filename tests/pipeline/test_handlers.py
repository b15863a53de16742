"""The pipeline's wiring: forge adapters built from the server Config."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.config import Config, Secret
from bot.model import Event, EventKind, State
from bot.pipeline.handlers import forge_factory
from tests.forgeserver import GitHubServer

TOKEN = "ghp_" + "HandlerT0ken" * 3
REPO = "octo-org/shop"
SHA = "4" * 40


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    server = GitHubServer()
    server.tokens[TOKEN] = "gitops-bot"
    server.start()
    yield server
    server.stop()
    assert server.violations == [], server.violations


def _event() -> Event:
    return Event(
        "github",
        "d-1",
        EventKind.REVIEW,
        "opened",
        "127.0.0.1",
        REPO,
        "octocat",
        number=1,
        head_sha=SHA,
    )


def _three_writes(github: GitHubServer, spacing: float) -> float:
    config = Config(
        github_api_url=github.url, github_token=Secret(TOKEN), github_write_spacing=spacing
    )
    forge = forge_factory(config)(_event())
    started = time.monotonic()
    for state in (State.PENDING, State.SUCCESS, State.FAILURE):
        forge.set_status(REPO, SHA, "gitops-bot/review", state, "x")
    return time.monotonic() - started


def test_write_spacing_comes_from_the_config(github: GitHubServer) -> None:
    """PyGithub spaces writes 1 s apart by default; GITOPS_BOT_GITHUB_WRITE_SPACING sets it
    (0: no wait, for test servers)."""
    assert Config.load({"GITOPS_BOT_GITHUB_WRITE_SPACING": "0"}).github_write_spacing == 0
    assert Config().github_write_spacing == 1.0
    assert _three_writes(github, 0.4) >= 0.8  # two gaps between three writes
    assert _three_writes(github, 0) < 0.8  # no gaps: well under, even on a loaded machine
    assert len(github.statuses) == 6
