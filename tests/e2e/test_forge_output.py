"""What the running bot writes to the forge when a review cannot finish or a command is
refused: user text (here a key of the repository config, as a file name would be) goes out
inert — fenced, mentions and HTML neutralised — and every status line is plain text."""

from __future__ import annotations

import json

import pytest

from bot import markers
from tests.conftest import git
from tests.e2e.loop import REPO, Loop, open_pr
from tests.forgetext import HOSTILE, outside_code, plain_problems, problems
from tests.web.hookclient import fixture

pytestmark = pytest.mark.e2e


def test_failure_comment_fences_the_error_text(loop: Loop) -> None:
    git(loop.repo, "checkout", "-q", "main")
    config = loop.repo / ".gitops-bot.yaml"
    config.write_text(config.read_text() + json.dumps(HOSTILE) + ": 1\n")
    git(loop.repo, "commit", "-qam", "config: a key nobody knows")
    git(loop.repo, "rebase", "-q", "main", "change")
    head = open_pr(loop, "change")
    loop.work()
    [comment] = loop.comments()
    body = comment["body"]
    assert markers.first_line(body) == markers.REVIEW and "unknown key" in body
    assert problems(body) == [], body
    assert "security-team" in body and "security-team" not in outside_code(body)
    [pending, failed] = loop.statuses(head)
    assert failed["state"] == "failure" and failed["description"].startswith("review failed")
    assert plain_problems(failed["description"], 140) == []


def test_refusal_reply_does_not_mention_anyone(loop: Loop) -> None:
    open_pr(loop, "change")
    loop.work()
    loop.forge.permissions[(REPO, "mallory")] = "read"
    data = json.loads(fixture("github/issue_comment/created.payload.json"))
    data["issue"]["number"] = 1
    data["issue"]["pull_request"] = {"url": f"{loop.forge.url}/repos/{REPO}/pulls/1"}
    data["comment"]["body"] = markers.RECHECK
    data["sender"]["login"] = "mallory"
    assert loop.deliver("issue_comment", data)[0] == 202
    loop.work()
    [refusal] = [c["body"] for c in loop.comments() if markers.owns(c["body"], markers.REFUSAL)]
    assert "`mallory`" in refusal and problems(refusal) == []
