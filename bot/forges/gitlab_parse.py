"""Pure GitLab webhook parsing: (X-Gitlab-Event, delivery id, JSON payload) -> Event.

No I/O and no python-gitlab. Payloads are hints (docs/security.md#webhooks-are-hints):
the worker re-reads the merge request.
Event reference: https://docs.gitlab.com/user/project/integrations/webhook_events/
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.errors import Ignored
from bot.forges import payload as p
from bot.forges.base import BadPayload
from bot.model import Event, EventKind

# GitLab allows up to 20 levels of nested groups:
# https://docs.gitlab.com/user/group/subgroups/
MAX_PATH_SEGMENTS = 21

_MR_REVIEW = frozenset(
    {
        "open",
        "reopen",
        # `approved`/`unapproved` fire when the MR as a whole becomes (un)approved, `approval`/
        # `unapproval` for each user's approval; GitLab versions differ in which they send
        # (https://gitlab.com/gitlab-org/gitlab/-/issues/558252), so all four re-review.
        "approved",
        "unapproved",
        "approval",
        "unapproval",
    }
)
_MR_CLOSED = frozenset({"close", "merge"})
# `update` fires for any edit (title, labels, assignees...). Only some change what we review:
# `oldrev` is present "only when there are actual code changes, like new code is pushed or a
# suggestion is applied" (webhook_events.md, Merge request events); `changes.target_branch`
# means the MR was retargeted; `changes.draft` mirrors GitHub's ready_for_review.
_UPDATE_KEYS = ("target_branch", "draft")


def parse_gitlab(event_name: str, delivery_id: str, payload: Mapping[str, Any], host: str) -> Event:
    """Normalise one GitLab delivery; `Ignored(reason)` for what the bot does not act on.

    `event_name` is the X-Gitlab-Event header ("Merge Request Hook", "Note Hook", "Push Hook").
    Raises BadPayload (a ValueError) when a value the bot would use is malformed.
    """
    delivery, host = p.delivery(delivery_id), p.forge_host(host)
    if not isinstance(payload, Mapping):
        raise BadPayload("payload is not a JSON object")
    handler = _HANDLERS.get(event_name)
    if handler is None:
        raise Ignored(f"event {event_name!r} is not handled")
    fields = handler(payload)
    return Event(forge="gitlab", delivery_id=delivery, host=host, **fields)


def _path(value: Any, field: str) -> str:
    return p.repo_name(value, field, max_segments=MAX_PATH_SEGMENTS)


def _sender(payload: Mapping[str, Any]) -> str:
    return p.login(p.obj(payload, "user").get("username"), "user.username")


def _mr_fields(mr: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Fields shared by merge request and note events; `mr` is the MR object."""
    if mr.get("source_project_id") is None and "source_project_id" in mr:
        # The fork it came from was deleted. A 4xx would count toward GitLab disabling the
        # hook, so this is answered 200 "ignored" with the reason.
        raise Ignored("the merge request's source project was deleted")
    source = p.number(mr.get("source_project_id"), f"{prefix}.source_project_id")
    target = p.number(mr.get("target_project_id"), f"{prefix}.target_project_id")
    return {
        "number": p.number(mr.get("iid"), f"{prefix}.iid"),
        "project_id": target,
        "head_sha": p.sha(p.obj(mr, "last_commit").get("id"), f"{prefix}.last_commit.id"),
        "base_ref": p.branch(mr.get("target_branch"), f"{prefix}.target_branch"),
        # An MR from another project is a fork MR: untrusted (docs/security.md#case-14).
        "is_fork": source != target,
    }


def _merge_request(payload: Mapping[str, Any]) -> dict[str, Any]:
    attrs = p.obj(payload, "object_attributes")
    action = attrs.get("action")
    if action in _MR_REVIEW:
        kind = EventKind.REVIEW
    elif action in _MR_CLOSED:
        kind = EventKind.CLOSED
    elif action == "update":
        changes = payload.get("changes")
        changed = isinstance(changes, Mapping) and any(k in changes for k in _UPDATE_KEYS)
        if attrs.get("oldrev") is None and not changed:
            raise Ignored("merge request update without new commits or a new target")
        kind = EventKind.REVIEW
    else:
        raise Ignored(f"merge request action {action!r} is not handled")
    # The hook's project is the target project; the MR's own `target` names it too.
    target = attrs.get("target")
    repo = target.get("path_with_namespace") if isinstance(target, Mapping) else None
    repo = repo or p.obj(payload, "project").get("path_with_namespace")
    return {
        "kind": kind,
        "action": str(action),
        "sender": _sender(payload),
        "repo": _path(repo, "object_attributes.target.path_with_namespace"),
        **_mr_fields(attrs, "object_attributes"),
    }


def _note(payload: Mapping[str, Any]) -> dict[str, Any]:
    attrs = p.obj(payload, "object_attributes")
    if attrs.get("noteable_type") != "MergeRequest":
        raise Ignored(f"comment on a {attrs.get('noteable_type')!s}, not a merge request")
    if attrs.get("system") is True:
        raise Ignored("system note")
    if attrs.get("action", "create") != "create":
        raise Ignored(f"note action {attrs.get('action')!r} is not handled")
    cmd = p.command(attrs.get("note"))
    if cmd is None:
        raise Ignored("comment is not a /gitops-bot command")
    kind = p.command_kind(cmd)
    repo = _path(
        p.obj(payload, "project").get("path_with_namespace"), "project.path_with_namespace"
    )
    return {
        "kind": kind,
        "action": "note_created",
        "sender": _sender(payload),
        "repo": repo,
        "comment": cmd,
        **_mr_fields(p.obj(payload, "merge_request"), "merge_request"),
    }


def _push(payload: Mapping[str, Any]) -> dict[str, Any]:
    ref = p.branch_ref(payload.get("ref"), "ref")
    after = p.sha(payload.get("after"), "after")
    if after == p.ZERO_SHA:
        raise Ignored("branch deletion")
    before = p.sha(payload.get("before"), "before")
    return {
        "kind": EventKind.PUSH,
        "action": "push",
        "sender": p.login(payload.get("user_username"), "user_username"),
        "repo": _path(
            p.obj(payload, "project").get("path_with_namespace"), "project.path_with_namespace"
        ),
        "project_id": p.number(payload.get("project_id"), "project_id"),
        "ref": ref,
        "before": None if before == p.ZERO_SHA else before,
        "after": after,
        "head_sha": after,
    }


def _tag_push(payload: Mapping[str, Any]) -> dict[str, Any]:
    raise Ignored("tag push")


_HANDLERS = {
    "Merge Request Hook": _merge_request,
    "Note Hook": _note,
    "Push Hook": _push,
    "Tag Push Hook": _tag_push,
}
