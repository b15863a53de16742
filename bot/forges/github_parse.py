"""Pure GitHub webhook parsing: (X-GitHub-Event, delivery id, JSON payload) -> Event.

No I/O and no PyGithub: the web tier calls this on every delivery. Payloads are hints
(docs/security.md#webhooks-are-hints): the worker re-reads the pull request from the API
by number and SHA.
Event reference: https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.errors import Ignored
from bot.forges import payload as p
from bot.forges.base import BadPayload
from bot.model import Event, EventKind

# pull_request actions that ask for a (re)review. Draft PRs are reviewed too: the pipeline
# decides what a draft gets. `converted_to_draft`, `labeled`, `assigned`... change no code.
_PR_REVIEW = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
# pull_request_review actions: an approval added or withdrawn changes the gate.
_REVIEW_REVIEW = frozenset({"submitted", "dismissed"})


def parse_github(event_name: str, delivery_id: str, payload: Mapping[str, Any], host: str) -> Event:
    """Normalise one GitHub delivery; `Ignored(reason)` for what the bot does not act on.

    Raises BadPayload (a ValueError) when a value the bot would use is malformed.
    """
    delivery, host = p.delivery(delivery_id), p.forge_host(host)
    if event_name == "ping":
        raise Ignored("ping")
    if not isinstance(payload, Mapping):
        raise BadPayload("payload is not a JSON object")
    handler = _HANDLERS.get(event_name)
    if handler is None:
        raise Ignored(f"event {event_name!r} is not handled")
    action = payload.get("action")
    fields = handler(payload, action if isinstance(action, str) else "")
    inst = payload.get("installation")
    if isinstance(inst, Mapping) and inst.get("id") is not None:
        fields["installation_id"] = p.number(inst.get("id"), "installation.id")
    sender = p.obj(payload, "sender").get("login")
    return Event(
        forge="github",
        delivery_id=delivery,
        host=host,
        sender=p.login(sender, "sender.login"),
        **fields,
    )


def _repo(payload: Mapping[str, Any]) -> str:
    return p.repo_name(p.obj(payload, "repository").get("full_name"), "repository.full_name")


def _pull_fields(payload: Mapping[str, Any], pr: Mapping[str, Any]) -> dict[str, Any]:
    """Fields shared by pull_request and pull_request_review events."""
    repo = _repo(payload)
    base = p.obj(pr, "base")
    head = p.obj(pr, "head")
    base_repo = p.obj(base, "repo").get("full_name")
    if base_repo != repo:
        raise BadPayload("pull_request.base.repo does not match repository")
    # A fork PR comes from another repository; a deleted fork has head.repo = null. Either way
    # the head is untrusted (docs/security.md#case-14).
    head_repo = head.get("repo")
    head_name = head_repo.get("full_name") if isinstance(head_repo, Mapping) else None
    return {
        "repo": repo,
        "number": p.number(pr.get("number"), "pull_request.number"),
        "head_sha": p.sha(head.get("sha"), "pull_request.head.sha"),
        "base_ref": p.branch(base.get("ref"), "pull_request.base.ref"),
        "is_fork": head_name != base_repo,
    }


def _pull_request(payload: Mapping[str, Any], action: str) -> dict[str, Any]:
    if action in _PR_REVIEW:
        kind = EventKind.REVIEW
    elif action == "closed":
        kind = EventKind.CLOSED
    elif (
        action == "edited"
        and isinstance(payload.get("changes"), Mapping)
        and "base" in payload["changes"]
    ):
        kind = EventKind.REVIEW  # retargeted to another base branch: the diff changed
    else:
        raise Ignored(f"pull_request action {action!r} is not handled")
    return {"kind": kind, "action": action, **_pull_fields(payload, p.obj(payload, "pull_request"))}


def _pull_request_review(payload: Mapping[str, Any], action: str) -> dict[str, Any]:
    if action not in _REVIEW_REVIEW:
        raise Ignored(f"pull_request_review action {action!r} is not handled")
    return {
        "kind": EventKind.REVIEW,
        "action": f"review_{action}",
        **_pull_fields(payload, p.obj(payload, "pull_request")),
    }


def _issue_comment(payload: Mapping[str, Any], action: str) -> dict[str, Any]:
    if action != "created":
        raise Ignored(f"issue_comment action {action!r} is not handled")
    issue = p.obj(payload, "issue")
    # Pull requests are issues; only a PR's issue carries a `pull_request` key.
    # https://docs.github.com/en/rest/issues/comments ("Every pull request is an issue")
    if not isinstance(issue.get("pull_request"), Mapping):
        raise Ignored("comment on an issue, not a pull request")
    cmd = p.command(p.obj(payload, "comment").get("body"))
    if cmd is None:
        raise Ignored("comment is not a /gitops-bot command")
    kind = p.command_kind(cmd)
    # The head SHA is not in the payload: the worker reads it (and the author's permission).
    return {
        "kind": kind,
        "action": "comment_created",
        "repo": _repo(payload),
        "number": p.number(issue.get("number"), "issue.number"),
        "comment": cmd,
    }


def _merge_group(payload: Mapping[str, Any], action: str) -> dict[str, Any]:
    """A merge queue asks for checks of its merge commit (`head_sha`, built on `base_sha`).

    The change number stays unset (a group may hold several pull requests; the job reads
    them); `ref` is the queue's temporary branch, `before`/`after` the base and the merge
    commit. https://docs.github.com/en/webhooks/webhook-events-and-payloads#merge_group
    """
    if action != "checks_requested":
        raise Ignored(f"merge_group action {action!r} is not handled")
    group = p.obj(payload, "merge_group")
    base_ref = p.branch_ref(group.get("base_ref"), "merge_group.base_ref")
    return {
        "kind": EventKind.MERGE_GROUP,
        "action": action,
        "repo": _repo(payload),
        "ref": p.branch_ref(group.get("head_ref"), "merge_group.head_ref"),
        "base_ref": base_ref.removeprefix("refs/heads/"),
        "before": p.sha(group.get("base_sha"), "merge_group.base_sha"),
        "after": p.sha(group.get("head_sha"), "merge_group.head_sha"),
    }


def _push(payload: Mapping[str, Any], action: str) -> dict[str, Any]:
    ref = p.branch_ref(payload.get("ref"), "ref")
    after = p.sha(payload.get("after"), "after")
    if payload.get("deleted") is True or after == p.ZERO_SHA:
        raise Ignored("branch deletion")
    before = p.sha(payload.get("before"), "before")
    return {
        "kind": EventKind.PUSH,
        "action": "push",
        "repo": _repo(payload),
        "ref": ref,
        "before": None if before == p.ZERO_SHA else before,
        "after": after,
        "head_sha": after,
    }


_HANDLERS = {
    "pull_request": _pull_request,
    "pull_request_review": _pull_request_review,
    "issue_comment": _issue_comment,
    "push": _push,
    "merge_group": _merge_group,
}
