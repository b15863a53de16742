"""What the sweep recovers, decided on plain facts (bot.missed)."""

from __future__ import annotations

from bot.missed import OpenChange, approvals_to_recover, counted_approvals, reviews_to_recover
from bot.model import Approval

HEAD, OLD = "a" * 40, "b" * 40


def test_only_heads_nobody_told_the_bot_about_are_reviewed() -> None:
    changes = [
        OpenChange(1, HEAD, reviewed=False, delivered=False),
        OpenChange(2, HEAD, reviewed=False, delivered=True),  # its job will run
        OpenChange(3, HEAD, reviewed=True, delivered=False),
    ]
    assert [c.number for c in reviews_to_recover(changes)] == [1]


def test_reviewed_heads_whose_approvers_changed_are_reviewed_again() -> None:
    alice, both = frozenset({"alice"}), frozenset({"alice", "bob"})
    changes = [
        OpenChange(1, HEAD, True, True, counted=frozenset(), approvers_now=alice),  # given
        OpenChange(2, HEAD, True, True, counted=both, approvers_now=alice),  # withdrawn
        OpenChange(3, HEAD, True, True, counted=both, approvers_now=both),  # unchanged
        OpenChange(4, HEAD, True, True, counted=None, approvers_now=None),  # no review recorded
        OpenChange(5, HEAD, False, True, counted=frozenset(), approvers_now=alice),  # running
    ]
    assert [c.number for c in approvals_to_recover(changes)] == [1, 2]


def test_an_approval_counts_with_write_access_on_the_head_and_not_by_the_author() -> None:
    approvals = [
        Approval("alice", HEAD, can_write=True),
        Approval("bob", OLD, can_write=True),  # an older commit
        Approval("carol", HEAD, can_write=False),  # no write access
        Approval("octocat", HEAD, can_write=True),  # the author
    ]
    assert [a.user for a in counted_approvals(approvals, HEAD, "octocat")] == ["alice"]
