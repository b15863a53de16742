"""parse_gitlab on GitLab's documented payload examples, adapted in code only."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import Ignored
from bot.forges import BadPayload, parse_gitlab
from bot.model import Event, EventKind
from tests.forges.payloads import gl_event_header, gl_payload

HOST = "gitlab.example.com"
UUID = "9cf6a8c8-6cde-4b23-a6c1-4f1e7c1b3a11"


def parse(kind: str, name: str, payload: dict[str, Any] | None = None) -> Event:
    return parse_gitlab(
        gl_event_header(kind, name),
        UUID,
        payload if payload is not None else gl_payload(kind, name),
        HOST,
    )


def mr(action: str, **attrs: Any) -> dict[str, Any]:
    payload = gl_payload("merge_request", "open")
    payload["object_attributes"].update(action=action, **attrs)
    return payload


def test_opened_merge_request_asks_for_review() -> None:
    event = parse("merge_request", "open")
    assert event.kind is EventKind.REVIEW and event.action == "open"
    assert (event.forge, event.host, event.repo, event.number, event.project_id) == (
        "gitlab",
        HOST,
        "awesome_space/awesome_project",
        1,
        14,
    )
    assert event.head_sha == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert event.base_ref == "master" and event.sender == "root" and event.is_fork is False


def test_fork_detection() -> None:
    payload = mr("open", source_project_id=99)
    assert parse("merge_request", "open", payload).is_fork is True


@pytest.mark.parametrize("action", ["reopen", "approved", "unapproved", "approval", "unapproval"])
def test_reopen_and_approval_changes_ask_for_review(action: str) -> None:
    assert parse("merge_request", "open", mr(action)).kind is EventKind.REVIEW


@pytest.mark.parametrize("action", ["close", "merge"])
def test_close_and_merge_cancel_work(action: str) -> None:
    assert parse("merge_request", "open", mr(action)).kind is EventKind.CLOSED


def test_update_without_new_commits_is_ignored() -> None:
    payload = mr("update")
    payload["changes"] = {"labels": payload["changes"]["labels"]}
    with pytest.raises(Ignored, match="without new commits"):
        parse("merge_request", "open", payload)


def test_update_with_new_commits_is_reviewed() -> None:
    payload = mr("update", oldrev="95790bf891e76fee5e1747ab589903a6a1f80f22")
    payload["changes"] = {}
    assert parse("merge_request", "open", payload).kind is EventKind.REVIEW


@pytest.mark.parametrize("key", ["target_branch", "draft"])
def test_update_retarget_or_draft_change_is_reviewed(key: str) -> None:
    payload = mr("update")
    payload["changes"] = {key: {"previous": "x", "current": "y"}}
    assert parse("merge_request", "open", payload).kind is EventKind.REVIEW


def test_unknown_merge_request_action_is_ignored() -> None:
    with pytest.raises(Ignored):
        parse("merge_request", "open", mr("mystery"))


def _note(body: str) -> dict[str, Any]:
    payload = gl_payload("note", "merge_request")
    payload["object_attributes"]["note"] = body
    return payload


def test_recheck_note_on_a_merge_request() -> None:
    event = parse("note", "merge_request", _note("/gitops-bot recheck"))
    assert event.kind is EventKind.RECHECK and event.comment == "/gitops-bot recheck"
    assert (event.repo, event.number, event.project_id) == ("gitlab-org/gitlab-test", 1, 5)
    assert event.head_sha == "562e173be03b8ff2efb05345d12df18815438a4b"
    assert event.sender == "root" and event.is_fork is False


def test_plain_note_is_ignored() -> None:
    with pytest.raises(Ignored, match="not a /gitops-bot command"):
        parse("note", "merge_request")


@pytest.mark.parametrize("name", ["issue", "snippet"])
def test_notes_elsewhere_are_ignored(name: str) -> None:
    payload = gl_payload("note", name)
    payload["object_attributes"]["note"] = "/gitops-bot recheck"
    with pytest.raises(Ignored, match="not a merge request"):
        parse("note", name, payload)


def test_system_note_is_ignored() -> None:
    payload = _note("/gitops-bot recheck")
    payload["object_attributes"]["system"] = True
    with pytest.raises(Ignored, match="system"):
        parse("note", "merge_request", payload)


def test_push_to_a_branch() -> None:
    event = parse("push", "push")
    assert event.kind is EventKind.PUSH and event.ref == "refs/heads/master"
    assert event.before == "95790bf891e76fee5e1747ab589903a6a1f80f22"
    assert event.after == event.head_sha == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert (event.repo, event.project_id, event.sender) == ("mike/diaspora", 15, "jsmith")


def test_branch_deletion_is_ignored() -> None:
    payload = gl_payload("push", "push")
    payload["after"] = "0" * 40
    with pytest.raises(Ignored, match="deletion"):
        parse("push", "push", payload)


@pytest.mark.parametrize(
    "kind,name", [("tag_push", "tag_push"), ("pipeline", "success"), ("deployment", "success")]
)
def test_other_hooks_are_ignored(kind: str, name: str) -> None:
    with pytest.raises(Ignored):
        parse(kind, name)


@pytest.mark.parametrize(
    "key,value",
    [
        ("iid", 0),
        ("iid", "1"),
        ("target_project_id", None),
        ("target_branch", "-x"),
        ("last_commit", {"id": "da15608"}),
        ("target", {"path_with_namespace": "a/../b"}),
    ],
)
def test_malformed_values_are_rejected(key: str, value: Any) -> None:
    with pytest.raises(BadPayload):
        parse("merge_request", "open", mr("open", **{key: value}))


def test_nested_groups_are_accepted() -> None:
    payload = mr("open", target={"path_with_namespace": "org/team/sub/app"})
    assert parse("merge_request", "open", payload).repo == "org/team/sub/app"
