"""The go / no-go decisions (bot.decide): one table row per branch of each ladder."""

from __future__ import annotations

import pytest

from bot.decide import (
    APPROVAL_ACTIONS,
    DeployFacts,
    ReviewFacts,
    ReviewGate,
    ReviewVerdict,
    approval_candidates,
    asks_merged_review,
    asks_render_compare,
    asks_review_record,
    asks_write_access,
    change_verdict,
    deploy_gate,
    group_matches,
    review_gate,
    review_verdict,
)
from bot.model import ApprovalRequirement, EventKind, State
from bot.outcomes import ReviewState, Verdict

R = ReviewState
PASSED, FAILED, NEEDS_APPROVAL = Verdict.PASSED, Verdict.FAILED, Verdict.NEEDS_APPROVAL

HEAD, OLD = "a" * 40, "b" * 40
REVIEW, RECHECK = EventKind.REVIEW, EventKind.RECHECK


def open_change(kind: EventKind = REVIEW, **facts: object) -> ReviewFacts:
    base: dict[str, object] = {
        "number": 7,
        "event_head": HEAD,
        "change_state": "open",
        "change_head": HEAD,
        "sender": "mallory",
    }
    return ReviewFacts(kind, **{**base, **facts})  # type: ignore[arg-type]


REVIEW_LADDER = [
    (
        "no change number",
        ReviewFacts(REVIEW, number=None),
        ReviewGate(R.IGNORED, "no change number"),
    ),
    (
        "closed change",
        open_change(change_state="closed"),
        ReviewGate(R.SKIPPED, "change is closed", HEAD),
    ),
    (
        "merged change, even a recheck",
        open_change(RECHECK, change_state="merged"),
        ReviewGate(R.SKIPPED, "change is merged", HEAD),
    ),
    (
        "recheck without write access",
        open_change(RECHECK, sender_can_write=False),
        ReviewGate(R.REFUSED, "mallory may not run commands", HEAD),
    ),
    (
        "recheck, write access not known: refused",
        open_change(RECHECK),
        ReviewGate(R.REFUSED, "mallory may not run commands", HEAD),
    ),
    (
        "recheck with write access, head already reviewed",
        open_change(RECHECK, sender_can_write=True, already_reviewed=True),
        ReviewGate(R.REVIEW, "", HEAD),
    ),
    (
        "second event for the same head",
        open_change(already_reviewed=True),
        ReviewGate(R.DUPLICATE, f"{HEAD[:12]} is already reviewed", HEAD),
    ),
    (
        "stale event for an older head, current head reviewed",
        open_change(event_head=OLD, already_reviewed=True),
        ReviewGate(R.SUPERSEDED, f"{HEAD[:12]} is already reviewed", OLD),
    ),
    (
        "stale event, current head not reviewed yet: review it",
        open_change(event_head=OLD, already_reviewed=False),
        ReviewGate(R.REVIEW, "", HEAD),
    ),
    (
        "approvals changed: review the same head again",
        open_change(action="review_submitted", already_reviewed=True),
        ReviewGate(R.REVIEW, "", HEAD),
    ),
    (
        "fork, fork_mode skip",
        open_change(is_fork=True, fork_mode="skip"),
        ReviewGate(R.FAILURE, "not rendered: fork", HEAD),
    ),
    (
        "fork, fork_mode validate",
        open_change(is_fork=True, already_reviewed=False),
        ReviewGate(R.REVIEW, "", HEAD),
    ),
    ("new head", open_change(already_reviewed=False), ReviewGate(R.REVIEW, "", HEAD)),
]


@pytest.mark.parametrize(
    ("facts", "gate"), [row[1:] for row in REVIEW_LADDER], ids=[row[0] for row in REVIEW_LADDER]
)
def test_review_gate(facts: ReviewFacts, gate: ReviewGate) -> None:
    assert review_gate(facts) == gate
    assert review_gate(facts).go is (gate.state == ReviewState.REVIEW)


LOOKUPS = [  # which facts the job must look up: (facts, write access?, review record?)
    ("closed change: neither", open_change(RECHECK, change_state="closed"), False, False),
    ("recheck: write access only", open_change(RECHECK), True, False),
    ("review: review record only", open_change(), False, True),
    ("approval change: neither", open_change(action="approved"), False, False),
    ("push: neither", open_change(EventKind.PUSH), False, False),
]


@pytest.mark.parametrize(
    ("facts", "write", "record"), [row[1:] for row in LOOKUPS], ids=[row[0] for row in LOOKUPS]
)
def test_review_lookups(facts: ReviewFacts, write: bool, record: bool) -> None:
    assert (asks_write_access(facts), asks_review_record(facts)) == (write, record)


def test_every_approval_action_reviews_again() -> None:
    for action in APPROVAL_ACTIONS:
        assert review_gate(open_change(action=action, already_reviewed=True)).go


VERDICTS = [
    ("passed", State.SUCCESS, HEAD, ReviewVerdict(R.SUCCESS, State.SUCCESS, True)),
    ("warnings pass", State.WARNING, HEAD, ReviewVerdict(R.SUCCESS, State.SUCCESS, True)),
    ("failed", State.FAILURE, HEAD, ReviewVerdict(R.FAILURE, State.FAILURE, True)),
    ("error counts as failure", State.ERROR, HEAD, ReviewVerdict(R.FAILURE, State.FAILURE, True)),
    (
        "head moved: own state, no comment",
        State.WARNING,
        OLD,
        ReviewVerdict(R.SUPERSEDED, State.WARNING, False),
    ),
]


@pytest.mark.parametrize(
    ("result", "current", "verdict"),
    [row[1:] for row in VERDICTS],
    ids=[row[0] for row in VERDICTS],
)
def test_review_verdict(result: State, current: str, verdict: ReviewVerdict) -> None:
    assert review_verdict(result, HEAD, current) == verdict


@pytest.mark.parametrize("state", ["closed", "merged"])
def test_a_change_closed_while_reviewed_gets_nothing_published(state: str) -> None:
    verdict = review_verdict(State.FAILURE, HEAD, HEAD, state)
    assert verdict == ReviewVerdict(R.SKIPPED, State.FAILURE, publish=False, set_status=False)


SHA, REVIEWED = "c" * 40, "d" * 40
ENVS = ("staging", "prod")
SKEW = (
    f"the merge result {SHA[:12]} renders differently in prod from the reviewed head "
    f"{REVIEWED[:12]} of change #4; update the branch and review it again"
)
NO_CHANGE = f"{SHA[:12]} was pushed to the protected branch without a reviewed change request"
NO_REVIEW = (
    "change #4 has no passing gitops-bot review (with its required approvals) at its "
    f"head {REVIEWED[:12]}"
)

DEPLOY_GATE = [
    ("direct push, no change", DeployFacts(SHA, ENVS), {"staging": NO_CHANGE, "prod": NO_CHANGE}),
    (
        "review did not pass",
        DeployFacts(SHA, ENVS, 4, REVIEWED, review_passed=False),
        {"staging": NO_REVIEW, "prod": NO_REVIEW},
    ),
    (
        "review not looked up: refused",
        DeployFacts(SHA, ENVS, 4, REVIEWED),
        {"staging": NO_REVIEW, "prod": NO_REVIEW},
    ),
    (
        "fast-forward merge of the reviewed head",
        DeployFacts(SHA, ENVS, 4, SHA, True),
        {"staging": None, "prod": None},
    ),
    (
        "merge commit renders like the head in one environment only",
        DeployFacts(SHA, ENVS, 4, REVIEWED, True, {"staging": ("x", "x"), "prod": ("x", "y")}),
        {"staging": None, "prod": SKEW},
    ),
    (
        "merge commit not rendered: refused",
        DeployFacts(SHA, ("prod",), 4, REVIEWED, True),
        {"prod": SKEW},
    ),
    (
        "merge queue reviewed the merged commit itself",
        DeployFacts(SHA, ENVS, 4, REVIEWED, True, merged_reviewed=True),
        {"staging": None, "prod": None},
    ),
    (
        "merge queue review of the commit, but the change's own review failed",
        DeployFacts(SHA, ENVS, 4, REVIEWED, False, merged_reviewed=True),
        {"staging": NO_REVIEW, "prod": NO_REVIEW},
    ),
    (
        "merged commit's review did not pass: skew guard decides",
        DeployFacts(
            SHA,
            ENVS,
            4,
            REVIEWED,
            True,
            {"staging": ("x", "x"), "prod": ("x", "y")},
            merged_reviewed=False,
        ),
        {"staging": None, "prod": SKEW},
    ),
]


@pytest.mark.parametrize(
    ("facts", "reasons"), [row[1:] for row in DEPLOY_GATE], ids=[row[0] for row in DEPLOY_GATE]
)
def test_deploy_gate(facts: DeployFacts, reasons: dict[str, str | None]) -> None:
    assert deploy_gate(facts) == reasons


RENDER_COMPARE = [
    ("no change", DeployFacts(SHA, ENVS), False),
    ("review failed", DeployFacts(SHA, ENVS, 4, REVIEWED, False), False),
    ("reviewed head is the pushed SHA", DeployFacts(SHA, ENVS, 4, SHA, True), False),
    ("merge commit of a passed review", DeployFacts(SHA, ENVS, 4, REVIEWED, True), True),
    (
        "merged commit reviewed by a merge queue",
        DeployFacts(SHA, ENVS, 4, REVIEWED, True, merged_reviewed=True),
        False,
    ),
]


MERGED_REVIEW = [
    ("no change", DeployFacts(SHA, ENVS), False),
    ("head is the pushed SHA", DeployFacts(SHA, ENVS, 4, SHA, True), False),
    ("change's review failed", DeployFacts(SHA, ENVS, 4, REVIEWED, False), False),
    ("merge commit of a passed review", DeployFacts(SHA, ENVS, 4, REVIEWED, True), True),
]


@pytest.mark.parametrize(
    ("facts", "asks"), [row[1:] for row in MERGED_REVIEW], ids=[row[0] for row in MERGED_REVIEW]
)
def test_merged_review_looked_up_only_when_it_decides(facts: DeployFacts, asks: bool) -> None:
    assert asks_merged_review(facts) is asks


@pytest.mark.parametrize(
    ("facts", "asks"), [row[1:] for row in RENDER_COMPARE], ids=[row[0] for row in RENDER_COMPARE]
)
def test_render_compare_only_when_it_decides(facts: DeployFacts, asks: bool) -> None:
    assert asks_render_compare(facts) is asks


# -- approvals and the verdict of a change ---------------------------------------------------


@pytest.mark.parametrize(
    ("group", "team", "counts"),
    [
        ("platform", "acme/platform", True),  # a slug matches the org's team
        ("acme/platform", "acme/platform", True),  # so does the full name
        ("Platform", "acme/platform", True),  # slugs are case-insensitive
        ("platform", "acme/infra/platform", True),  # a GitLab subgroup
        ("infra/platform", "acme/infra/platform", True),
        ("sre,platform", "acme/platform", True),  # any of several groups
        ("platform", "acme/platform-ops", False),
        ("acme/platform", "other/platform", False),
        ("form", "acme/platform", False),
        ("*", "anything", True),
    ],
)
def test_group_matches(group: str, team: str, counts: bool) -> None:
    assert group_matches(group, team) is counts


def test_candidates_are_team_members_other_than_the_author_and_approvers() -> None:
    req = ApprovalRequirement("platform", 2, "deletes a PVC", satisfied_by=("bea",))
    teams = {"acme/platform": ("bea", "al", "Cy", "author"), "acme/sre": ("dee",)}
    assert approval_candidates(req, teams, "author") == ("al", "Cy")
    many = {"acme/platform": tuple(f"u{i:02d}" for i in range(30))}
    assert len(approval_candidates(req, many, "x")) == 10
    assert approval_candidates(ApprovalRequirement("*", 2, "prod"), teams, "x") == ()
    done = ApprovalRequirement("platform", 1, "x", satisfied_by=("bea",))
    assert approval_candidates(done, teams, "x") == ()


@pytest.mark.parametrize(
    ("checks", "missing", "verdict"),
    [
        (State.SUCCESS, 0, PASSED),
        (State.WARNING, 0, PASSED),
        (State.SUCCESS, 1, NEEDS_APPROVAL),
        (State.WARNING, 2, NEEDS_APPROVAL),
        (State.FAILURE, 1, FAILED),
        (State.ERROR, 0, FAILED),
    ],
)
def test_change_verdict(checks: State, missing: int, verdict: str) -> None:
    assert change_verdict(checks, missing) == verdict
