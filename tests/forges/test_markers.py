"""Comment markers: a marker counts only as the exact first line of the bot's own comment,
one marker per comment kind, so text quoted lower down (a manifest annotation in a diff, an
error message) never makes one kind of comment replace another."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import markers
from bot.forges import GitHubForge, GitLabForge
from tests.forges.payloads import GH_TOKEN, GL_TOKEN
from tests.forgeserver import GitHubServer, GitLabServer

ROOT = Path(__file__).resolve().parents[2]
GH_REPO, GL_REPO = "octo-org/shop", "acme/shop"
HEAD, BASE = "2" * 40, "3" * 40
DEPLOY = markers.deploy("production")
# A review comment whose diff quotes a manifest annotation holding the deploy marker.
REVIEW_BODY = (
    f'{markers.REVIEW}\n### review\n\n```diff\n+  annotations:\n+    note: "{DEPLOY}"\n```\n'
)


def test_github_deploy_upsert_never_edits_a_review_comment_quoting_its_marker(
    github: GitHubServer,
) -> None:
    github.add_pull(GH_REPO, 7, head_sha=HEAD, base_sha=BASE)
    forge = GitHubForge(github.url, token=GH_TOKEN, seconds_between_writes=None)
    review = forge.upsert_comment(GH_REPO, 7, REVIEW_BODY, markers.REVIEW)
    deploy = forge.upsert_comment(GH_REPO, 7, f"{DEPLOY}\ndeployed", DEPLOY)
    assert deploy != review
    assert github.comments[int(review)]["body"] == REVIEW_BODY
    assert forge.upsert_comment(GH_REPO, 7, f"{DEPLOY}\nagain", DEPLOY) == deploy
    assert forge.upsert_comment(GH_REPO, 7, REVIEW_BODY + "x", markers.REVIEW) == review
    assert len(github.issue_comments(GH_REPO, 7)) == 2


def test_gitlab_deploy_upsert_never_edits_a_review_note_quoting_its_marker(
    gitlab: GitLabServer,
) -> None:
    gitlab.add_project(GL_REPO, group_id=70)
    gitlab.add_mr(GL_REPO, 3, sha=HEAD, base_sha=BASE)
    forge = GitLabForge(gitlab.origin, token=GL_TOKEN)
    review = forge.upsert_comment(GL_REPO, 3, REVIEW_BODY, markers.REVIEW)
    deploy = forge.upsert_comment(GL_REPO, 3, f"{DEPLOY}\ndeployed", DEPLOY)
    assert deploy != review
    assert gitlab.notes[int(review)]["body"] == REVIEW_BODY
    assert forge.upsert_comment(GL_REPO, 3, f"{DEPLOY}\nagain", DEPLOY) == deploy
    assert len(gitlab.mr_notes(GL_REPO, 3)) == 2


@pytest.mark.parametrize(
    "body,owned",
    [
        (f"{markers.REVIEW}\nbody", True),
        (f"{markers.REVIEW}\r\nbody edited in the web UI", True),
        (markers.REVIEW, True),
        (f"text\n{markers.REVIEW}\n", False),  # not the first line
        (f" {markers.REVIEW}\nbody", False),
        (f"{markers.REVIEW}{DEPLOY}\nbody", False),  # two markers on one line
        (f"{DEPLOY}\n{markers.REVIEW}\n", False),
        ("", False),
    ],
)
def test_a_marker_is_the_exact_first_line(body: str, owned: bool) -> None:
    assert markers.owns(body, markers.REVIEW) is owned


def test_each_environment_has_its_own_deploy_marker_that_text_cannot_forge() -> None:
    assert markers.deploy("staging") != markers.deploy("production")
    hostile = markers.deploy("prod --> <img src=x onerror=alert(1)>\n<!-- x")
    assert "\n" not in hostile and hostile.count("-->") == 1 and "<img" not in hostile
    assert markers.kind_of(hostile) == "deploy"
    assert {markers.kind_of(m) for m in (markers.REVIEW, markers.REFUSAL)} == {"review", "refusal"}


def test_markers_and_command_words_are_defined_once() -> None:
    """Only bot/markers.py spells a marker or a command word; everything else imports it."""
    spelled = re.compile(r"<!-- gitops-bot:|/gitops-bot recheck")
    found = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "bot").rglob("*.py"))
        if p.name != "markers.py" and spelled.search(p.read_text())
    ]
    assert found == []
