"""PURE: which events the forge never delivered, from what the forge and git say now and
what the store holds (the sweep, `bot.pipeline.sweep`, gathers these facts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.model import Approval


@dataclass(frozen=True)
class OpenChange:
    """An open pull / merge request's current head, and what the bot has of it."""

    number: int
    head_sha: str
    reviewed: bool  # a review of this head finished
    delivered: bool  # a delivery for this head was stored (a review will run or ran)
    # who approved, as the last finished review of this head counted it and as the forge
    # has it now (`counted_approvers`); None: not known (no review recorded, not asked)
    counted: frozenset[str] | None = None
    approvers_now: frozenset[str] | None = None


@dataclass(frozen=True)
class BranchTip:
    """A protected branch's tip, and what the bot has of it."""

    branch: str
    sha: str
    committed_at: float  # epoch seconds of the tip commit
    deployed: bool  # a deploy of this SHA was recorded (whatever its outcome)
    delivered: bool  # a push delivery for this SHA was stored


def reviews_to_recover(changes: Sequence[OpenChange]) -> list[OpenChange]:
    """Heads nobody told the bot about: no delivery and no review."""
    return [c for c in changes if not c.reviewed and not c.delivered]


def counted_approvals(approvals: Iterable[Approval], head: str, author: str) -> list[Approval]:
    """The approvals a review counts: by someone with write access, on the reviewed head,
    not by the change's author."""
    return [a for a in approvals if a.can_write and a.sha == head and a.user != author]


def approvals_to_recover(changes: Sequence[OpenChange]) -> list[OpenChange]:
    """Reviewed heads whose approvers changed since their last review with no delivery
    saying so: an approval given or dismissed while the bot was down."""
    return [
        c
        for c in changes
        if c.reviewed
        and c.counted is not None
        and c.approvers_now is not None
        and c.approvers_now != c.counted
    ]


def deploys_to_recover(tips: Sequence[BranchTip], watching_since: float) -> list[BranchTip]:
    """Protected-branch tips that moved without a push delivery and were never deployed.

    Tips committed before the bot received its first delivery of the repository predate it:
    they are left alone (deploying them would judge history nobody asked the bot about).
    """
    return [
        t for t in tips if not t.deployed and not t.delivered and t.committed_at >= watching_since
    ]


def stopped_deliveries(
    repo: str, reviews: int, deploys: int, last_delivery: str, approvals: int = 0
) -> str:
    """The readiness detail when changes moved while no delivery came (`reviews` counts
    heads and `approvals` changes whose approvers changed)."""
    moved = []
    if reviews:
        moved.append(f"{reviews} change head(s)")
    if approvals:
        moved.append(f"the approvals of {approvals} change(s)")
    if deploys:
        moved.append(f"{deploys} protected branch tip(s)")
    return (
        f"{repo}: {' and '.join(moved)} moved without a webhook delivery (newest delivery "
        f"{last_delivery}); recovered by the sweep. Check the webhook: GitLab disables "
        "a hook after repeated failures, GitHub shows failed deliveries in its settings"
    )
