"""Governance deliveries parsed from the real payload examples: GitHub's `merge_group`
(octokit/webhooks, checks_requested) and override / break-glass comment commands."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.errors import Ignored
from bot.forges import BadPayload, parse_github, parse_gitlab
from bot.model import EventKind
from tests.forges.payloads import gh_payload, gl_payload
from tests.web.hookclient import fixture

MERGE_GROUP = "github/merge_group/checks_requested.payload.json"


def merge_group() -> dict[str, Any]:
    return json.loads(fixture(MERGE_GROUP))


def test_merge_group_checks_requested() -> None:
    event = parse_github("merge_group", "d-1", merge_group(), "github.com")
    assert event.kind is EventKind.MERGE_GROUP and event.action == "checks_requested"
    assert event.repo == "octo-org/octo-repo" and event.sender == "Codertocat"
    assert (
        event.ref
        == "refs/heads/gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64"
    )
    assert event.base_ref == "main"
    assert event.before == "380387fbc80638b734a49e1be1c4dfec1c01b33c"  # base_sha
    assert event.after == "2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d"  # head_sha
    # no change number and no head SHA: a queued job never supersedes a pull request's review
    assert event.number is None and event.head_sha is None
    assert event.installation_id == 1


def test_merge_group_destroyed_is_ignored() -> None:
    payload = merge_group()
    payload["action"] = "destroyed"
    with pytest.raises(Ignored, match="destroyed"):
        parse_github("merge_group", "d-2", payload, "github.com")


@pytest.mark.parametrize(
    "field,value", [("head_sha", "not-a-sha"), ("base_sha", None), ("head_ref", 42)]
)
def test_malformed_merge_group_is_refused(field: str, value: Any) -> None:
    payload = merge_group()
    payload["merge_group"][field] = value
    with pytest.raises(BadPayload, match=f"merge_group.{field}"):
        parse_github("merge_group", "d-3", payload, "github.com")


def _pr_comment(body: str) -> dict[str, Any]:
    payload = gh_payload("issue_comment", "created.with-installation")
    payload["issue"]["pull_request"] = {
        "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"
    }
    payload["comment"]["body"] = body
    return payload


def _note(body: str) -> dict[str, Any]:
    payload = gl_payload("note", "merge_request")
    payload["object_attributes"]["note"] = body
    return payload


@pytest.mark.parametrize(
    "body",
    [
        "/gitops-bot override main.deny -- vendor image, ticket OPS-7",
        "/gitops-bot override withdraw main.deny",
        "/gitops-bot break-glass -- prod is down",
        "/gitops-bot break-glass confirm\nconfirming as SRE on call",
        "/gitops-bot break-glass withdraw",
        "/gitops-bot override",  # malformed: still a command, the job answers how to write it
    ],
)
def test_governance_commands_on_both_forges(body: str) -> None:
    first = body.split("\n")[0]
    gh = parse_github("issue_comment", "d-4", _pr_comment(body), "github.com")
    gl = parse_gitlab("Note Hook", "d-5", _note(body), "gitlab.com")
    for event in (gh, gl):
        assert event.kind is EventKind.COMMAND and event.comment == first
    assert gh.sender == "Codertocat" and gh.number == 1 and gl.sender == "root"


@pytest.mark.parametrize(
    "body",
    ["/gitops-bot overrides main.deny -- x", "/gitops-bot break", "/gitops-bot break-glassy -- x"],
)
def test_words_that_only_look_like_commands_are_ignored(body: str) -> None:
    with pytest.raises(Ignored, match="unknown command"):
        parse_github("issue_comment", "d-6", _pr_comment(body), "github.com")
    with pytest.raises(Ignored, match="unknown command"):
        parse_gitlab("Note Hook", "d-7", _note(body), "gitlab.com")
