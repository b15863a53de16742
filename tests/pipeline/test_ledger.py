"""The deploy ledger's comment on the merged change: user text inert, one comment per
environment, never the review comment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import markers
from bot.forges import GitHubForge
from bot.live.base import DeployOutcome
from bot.model import Event, EventKind, ObjKey
from bot.pipeline.ledger import StoreLedger
from bot.store import Store
from tests.forgeserver import GitHubServer
from tests.forgetext import HOSTILE, problems

TOKEN = "ghp_" + "LedgerT0ken" * 3
REPO = "octo-org/shop"
SHA = "8" * 40


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    server = GitHubServer()
    server.tokens[TOKEN] = "gitops-bot"
    server.start()
    server.add_pull(REPO, 5, head_sha=SHA, base_sha="9" * 40, merged=True, state="closed")
    yield server
    server.stop()
    assert server.violations == [], server.violations


def test_deploy_comment_quotes_failures_inert_and_keeps_the_review_comment(
    github: GitHubServer, tmp_path: Path
) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'bot.db'}")
    store.upgrade()
    forge = GitHubForge(github.url, token=TOKEN, seconds_between_writes=None)
    review = forge.upsert_comment(REPO, 5, f"{markers.REVIEW}\nreview", markers.REVIEW)
    key = ObjKey("apps", "Deployment", "web", "@security-team")
    outcome = DeployOutcome(
        applied=(), failed=((key, HOSTILE),), not_attempted=(key,), message=HOSTILE
    )
    event = Event(
        "github",
        "d-9",
        EventKind.PUSH,
        "push",
        "127.0.0.1",
        REPO,
        "octocat",
        ref="refs/heads/main",
        after=SHA,
    )
    for environment in ("staging", "production", "production"):
        StoreLedger(store).comment(forge, event, 5, environment, SHA, outcome)
    comments = github.issue_comments(REPO, 5)
    assert len(comments) == 3 and comments[0]["id"] == int(review)
    for comment in comments[1:]:
        assert problems(comment["body"]) == [], comment["body"]
    assert [markers.first_line(c["body"]) for c in comments] == [
        markers.REVIEW,
        markers.deploy("staging"),
        markers.deploy("production"),
    ]
