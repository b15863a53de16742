"""End to end: the review comment and status link to the dashboard (GITOPS_BOT_PUBLIC_URL), and
that link opens the full report of the same review, which the review job recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Secret
from tests.conftest import git
from bot.metrics import JOB_SECONDS
from tests.web.dashboard.conftest import Running
from tests.web.dashboard.seed import DASH_TOKEN
from tests.e2e.loop import REPO, STATUS, pr_payload, running_loop
from tests.forgeserver import GitHubServer
from tests.web.hookclient import github_headers, post

ROOT = Path(__file__).resolve().parents[3]
PUBLIC = "https://gitops-bot.example.com/"


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[tuple[Running, GitHubServer, Path]]:
    with running_loop(tmp_path, dashboard_token=Secret(DASH_TOKEN), public_url=PUBLIC) as loop:
        yield Running(loop.url, loop.services), loop.forge, loop.repo


def reviews_observed() -> float:
    return sum(
        s.value
        for m in JOB_SECONDS.collect()
        for s in m.samples
        if s.name.endswith("_count") and s.labels.get("stage") == "review"
    )


def test_comment_links_to_the_full_report(bot: tuple[Running, GitHubServer, Path]) -> None:
    site, forge, repo = bot
    head, base = git(repo, "rev-parse", "change"), git(repo, "rev-parse", "main")
    forge.add_pull(
        REPO, 1, head_sha=head, base_sha=base, author="octocat", files=["apps/web/deployment.yaml"]
    )
    body = json.dumps(pr_payload("opened", head, base)).encode()
    assert post(site.url, "/hooks/github", body, github_headers("pull_request", body))[0] == 202
    before = reviews_observed()
    huey = site.services.queue.huey
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
    assert reviews_observed() == before + 1

    link = f"{PUBLIC}reviews/127.0.0.1/{REPO}/1/{head}"
    [comment] = forge.issue_comments(REPO, 1)
    assert f"]({link})" in comment["body"]
    final = [s for s in forge.statuses if s["sha"] == head and s["context"] == STATUS][-1]
    assert final["target_url"] == link

    path = link.removeprefix(PUBLIC.rstrip("/"))
    status, _, page = site.get(path, token=DASH_TOKEN)
    assert status == 200
    assert "spec.replicas" in page and '<pre class="diff">' in page
    assert site.get(path)[0] == 401
