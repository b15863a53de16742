"""PURE: GitHub merge queue decisions — which pull request a queue branch is for, whether
the queued merge commit may be reviewed, and whose approvals count for it.

A merge group's commit (`merge_group.head_sha`) is the base tip (`base_sha`) with the queued
pull requests merged in. It is reviewed like a change with the base's rules. Each pull
request in the group must already have a passing review (with its approvals) at its own
head; the approvals given there — by users with write access, on that head, not by its
author — are counted for the merge commit. A pull request whose head is not part of the
commit's history (a squashing queue) is known only when the queue branch names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.model import Approval

# refs/heads/gh-readonly-queue/<base branch>/pr-<number>-<sha>
_QUEUE_REF = re.compile(
    r"^refs/heads/gh-readonly-queue/(?P<base>.+)/pr-(?P<number>[0-9]{1,9})"
    r"-(?P<sha>[0-9a-f]{40})$"
)


def queue_entry(ref: str | None) -> int | None:
    """The pull request number a merge queue branch was made for, None if it is not one."""
    found = _QUEUE_REF.match(ref or "")
    return int(found.group("number")) if found else None


@dataclass(frozen=True)
class Member:
    """A pull request in the group, as the forge and the store say now."""

    number: int
    head_sha: str
    author: str
    review_passed: bool | None = None  # a passing review (with approvals) at head_sha


@dataclass(frozen=True)
class GroupFacts:
    """What the merge group gate looks at."""

    entry: int | None  # the pull request the queue branch names
    base_ref: str
    members: tuple[Member, ...]  # the open pull requests into base_ref in the group


def group_gate(facts: GroupFacts) -> str | None:
    """None when the merge commit is reviewed, else why it fails without a review."""
    if facts.entry is None:
        return "the merge queue branch names no pull request"
    if all(m.number != facts.entry for m in facts.members):
        return f"#{facts.entry} is not an open pull request into {facts.base_ref}"
    for m in sorted(facts.members, key=lambda m: m.number):
        if not m.review_passed:
            return (
                f"#{m.number} has no passing gitops-bot review (with its required "
                f"approvals) at its head {m.head_sha[:12]}"
            )
    return None


@dataclass(frozen=True)
class Counted:
    """An approval of a group member that counts for the merge commit."""

    user: str
    number: int
    approved_sha: str
    teams: tuple[str, ...]
    review_id: str | None


def counted_approvals(
    members: Sequence[Member], approvals: Mapping[int, Sequence[Approval]]
) -> list[Counted]:
    """The approvals that count for the merge commit: per member, those by users with write
    access, given on the member's current head, not by its author."""
    out = []
    for m in sorted(members, key=lambda m: m.number):
        for a in approvals.get(m.number, ()):
            if a.can_write and a.sha == m.head_sha and a.user != m.author:
                out.append(Counted(a.user, m.number, a.sha, a.teams, a.review_id))
    return out
