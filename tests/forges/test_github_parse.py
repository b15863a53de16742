"""parse_github on GitHub's real payload examples (octokit/webhooks), adapted in code only."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import Ignored
from bot.forges import BadPayload, parse_github
from bot.model import Event, EventKind
from tests.forges.payloads import gh_payload

HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # pull_request.head.sha in the examples
HOST = "github.com"


def parse(
    event: str, payload: dict[str, Any], delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
) -> Event:
    return parse_github(event, delivery, payload, HOST)


@pytest.mark.parametrize(
    "name",
    [
        "opened",
        "opened.with-organization",
        "synchronize",
        "reopened",
        "ready_for_review",
        "ready_for_review.with-installation",
    ],
)
def test_pull_request_actions_that_change_code_ask_for_review(name: str) -> None:
    event = parse("pull_request", gh_payload("pull_request", name))
    assert event.kind is EventKind.REVIEW
    assert (event.forge, event.host, event.repo, event.number) == (
        "github",
        HOST,
        "Codertocat/Hello-World",
        2,
    )
    assert event.head_sha == HEAD and event.base_ref == "master" and event.sender == "Codertocat"
    assert event.is_fork is False
    assert event.action == name.split(".")[0]


def test_installation_id_is_taken_when_present() -> None:
    assert parse("pull_request", gh_payload("pull_request", "opened")).installation_id == 1
    assert (
        parse("pull_request", gh_payload("pull_request", "ready_for_review")).installation_id
        is None
    )


def test_closed_pull_request_cancels_work() -> None:
    event = parse("pull_request", gh_payload("pull_request", "closed"))
    assert event.kind is EventKind.CLOSED and event.number == 2


@pytest.mark.parametrize("name", ["labeled", "unlabeled", "converted_to_draft"])
def test_pull_request_actions_without_code_change_are_ignored(name: str) -> None:
    with pytest.raises(Ignored, match=name):
        parse("pull_request", gh_payload("pull_request", name))


def test_enterprise_payload_is_parsed_the_same_way() -> None:
    with pytest.raises(Ignored, match="labeled"):
        parse("pull_request", gh_payload("pull_request", "labeled", host="ghes-35"))
    payload = gh_payload("pull_request", "labeled", host="ghes-35")
    payload["action"] = "synchronize"
    event = parse_github("pull_request", "d1", payload, "octocoders.github.io")
    assert event.kind is EventKind.REVIEW and event.host == "octocoders.github.io"


def test_retargeted_pull_request_is_reviewed_other_edits_ignored() -> None:
    payload = gh_payload("pull_request", "opened")
    payload["action"] = "edited"
    payload["changes"] = {"title": {"from": "old"}}
    with pytest.raises(Ignored):
        parse("pull_request", payload)
    payload["changes"] = {"base": {"ref": {"from": "develop"}, "sha": {"from": HEAD}}}
    assert parse("pull_request", payload).kind is EventKind.REVIEW


@pytest.mark.parametrize("name", ["submitted", "dismissed"])
def test_review_submitted_or_dismissed_asks_for_review(name: str) -> None:
    event = parse("pull_request_review", gh_payload("pull_request_review", name))
    assert event.kind is EventKind.REVIEW and event.action == f"review_{name}"
    assert event.head_sha == HEAD and event.number == 2


def test_fork_detection() -> None:
    payload = gh_payload("pull_request", "opened")
    payload["pull_request"]["head"]["repo"]["full_name"] = "attacker/Hello-World"
    assert parse("pull_request", payload).is_fork is True
    payload["pull_request"]["head"]["repo"] = None  # the fork was deleted: still untrusted
    assert parse("pull_request", payload).is_fork is True


@pytest.mark.parametrize("name", ["payload", "with-organization"])
def test_ping_is_ignored(name: str) -> None:
    with pytest.raises(Ignored, match="ping"):
        parse("ping", gh_payload("ping", name))


@pytest.mark.parametrize("event,name", [("check_suite", "requested"), ("installation", "created")])
def test_unhandled_events_are_ignored(event: str, name: str) -> None:
    with pytest.raises(Ignored, match=event):
        parse(event, gh_payload(event, name))


@pytest.mark.parametrize("name", ["created", "created.with-installation", "edited", "deleted"])
def test_comment_on_a_plain_issue_is_ignored(name: str) -> None:
    payload = gh_payload("issue_comment", name)
    payload["comment"]["body"] = "/gitops-bot recheck"
    with pytest.raises(Ignored):
        parse("issue_comment", payload)


def _pr_comment(body: str) -> dict[str, Any]:
    payload = gh_payload("issue_comment", "created.with-installation")
    # Every example is on a plain issue; a PR's issue carries `pull_request` (GitHub docs).
    payload["issue"]["pull_request"] = {
        "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"
    }
    payload["comment"]["body"] = body
    return payload


def test_recheck_comment_on_a_pull_request() -> None:
    event = parse("issue_comment", _pr_comment("/gitops-bot recheck\nplease"))
    assert event.kind is EventKind.RECHECK
    assert (event.repo, event.number, event.comment) == (
        "Codertocat/Hello-World",
        1,
        "/gitops-bot recheck",
    )
    assert event.head_sha is None and event.installation_id == 1


@pytest.mark.parametrize(
    "body", ["please /gitops-bot recheck", "/gitops-botrecheck", "/gitops-bot deploy", "LGTM", ""]
)
def test_other_comments_are_ignored(body: str) -> None:
    with pytest.raises(Ignored):
        parse("issue_comment", _pr_comment(body))


def test_push_to_a_branch() -> None:
    event = parse("push", gh_payload("push", "with-new-branch"))
    assert event.kind is EventKind.PUSH and event.ref == "refs/heads/master"
    assert event.after == event.head_sha == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert event.before is None  # a new branch has no previous commit
    assert event.installation_id == 1


@pytest.mark.parametrize("name", ["payload", "with-installation", "with-organization"])
def test_tag_pushes_are_ignored(name: str) -> None:
    with pytest.raises(Ignored, match="tag"):
        parse("push", gh_payload("push", name))


def test_branch_deletion_is_ignored() -> None:
    payload = gh_payload("push", "with-new-branch")
    payload.update(before=payload["after"], after="0" * 40, deleted=True)
    with pytest.raises(Ignored, match="deletion"):
        parse("push", payload)


@pytest.mark.parametrize(
    "path,value",
    [
        (("pull_request", "head", "sha"), "ec26c3e"),
        (("pull_request", "head", "sha"), "EC26C3E57CA3A959CA5AAD62DE7213C562F8C821"),
        (("pull_request", "head", "sha"), None),
        (("pull_request", "number"), 0),
        (("pull_request", "number"), -2),
        (("pull_request", "number"), 2**31),
        (("pull_request", "number"), "2"),
        (("pull_request", "number"), True),
        (("repository", "full_name"), "../Hello-World"),
        (("repository", "full_name"), "Codertocat/Hello-World/extra"),
        (("repository", "full_name"), "-o/x"),
        (("pull_request", "base", "ref"), "--upload-pack=touch pwned"),  # docs/security.md#case-38
        (("pull_request", "base", "ref"), 'x";curl${IFS}evil;#'),
        (("sender", "login"), "a b"),
    ],
)
def test_malformed_values_are_rejected(path: tuple[str, ...], value: Any) -> None:
    payload = gh_payload("pull_request", "opened")
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    if path == ("repository", "full_name"):
        payload["pull_request"]["base"]["repo"]["full_name"] = value
    with pytest.raises(BadPayload) as err:
        parse("pull_request", payload)
    assert isinstance(err.value, ValueError)  # the web tier maps ValueError to HTTP 400


def test_base_repo_must_match_the_repository() -> None:
    payload = gh_payload("pull_request", "opened")
    payload["pull_request"]["base"]["repo"]["full_name"] = "someone/else"
    with pytest.raises(BadPayload):
        parse("pull_request", payload)


@pytest.mark.parametrize("delivery", ["", "a b", "x" * 101, "../etc"])
def test_bad_delivery_id_is_rejected(delivery: str) -> None:
    with pytest.raises(BadPayload):
        parse("pull_request", gh_payload("pull_request", "opened"), delivery=delivery)


def test_clone_urls_in_the_payload_are_never_taken() -> None:
    """docs/security.md#case-39: the event carries no URL at all; clone URLs are built from
    config + repo."""
    payload = gh_payload("pull_request", "opened")
    for repo in (payload["repository"], payload["pull_request"]["head"]["repo"]):
        repo["clone_url"] = "ext::sh -c touch% pwned"
        repo["git_url"] = "file:///etc"
    event = parse("pull_request", payload)
    assert not any("ext::" in str(v) or "file:" in str(v) for v in vars(event).values())


def test_non_object_payload_is_rejected() -> None:
    with pytest.raises(BadPayload):
        parse_github("push", "d1", [], HOST)  # type: ignore[arg-type]
