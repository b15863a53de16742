"""PURE: the go / no-go decisions of the review job and the deploy job, as data in, data out.

The jobs (`bot.pipeline.job`, `bot.pipeline.deploy`) gather the facts (forge, store, git) and
act on the verdict; nothing here does I/O. Facts a decision did not need are left `None`
(not looked up): `asks_write_access`, `asks_review_record` and `asks_render_compare` say which
ones a job must look up, so a job never asks the forge or the store more than the ladder needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.model import ApprovalRequirement, EventKind, ReviewResult, State, worst
from bot.outcomes import ReviewState, Verdict


# Forge actions meaning "the approvals changed": the same head is reviewed again for them.
# ("edited" is GitHub's base-branch change: a new comparison, so it is reviewed again too.)
APPROVAL_ACTIONS = frozenset(
    {
        "review_submitted",
        "review_dismissed",
        "edited",
        "approved",
        "unapproved",
        "approval",
        "unapproval",
        "governance",  # an override or break-glass given or withdrawn
        "approvals_swept",  # approvals that changed while the bot was down (bot.pipeline.sweep)
    }
)


@dataclass(frozen=True)
class ReviewFacts:
    """What the review ladder looks at, for one event; None: not looked up."""

    kind: EventKind
    action: str | None = None
    number: int | None = None  # the change number of the event (None: no change)
    event_head: str | None = None  # the head SHA the event was sent for
    change_state: str | None = None  # "open", "closed", "merged" as the forge says now
    change_head: str | None = None  # the change's head SHA as the forge says now
    is_fork: bool = False
    fork_mode: str = "validate"  # "skip": changes from forks are not rendered
    sender: str = ""
    sender_can_write: bool | None = None  # looked up for recheck commands only
    already_reviewed: bool | None = None  # looked up for review events only


@dataclass(frozen=True)
class ReviewGate:
    """The ladder's verdict: `state` REVIEW (go ahead), or the outcome when the review stops."""

    state: ReviewState  # REVIEW, or ignored | skipped | refused | superseded | duplicate | failure
    status_line: str = ""
    head_sha: str | None = None

    @property
    def go(self) -> bool:
        """Whether the review goes ahead."""
        return self.state == ReviewState.REVIEW


def asks_write_access(facts: ReviewFacts) -> bool:
    """Whether the sender's write access decides: a recheck command on an open change."""
    return facts.change_state == "open" and facts.kind is EventKind.RECHECK


def asks_review_record(facts: ReviewFacts) -> bool:
    """Whether an existing review of the head decides (one review per head SHA); approval
    changes and recheck commands always review again."""
    return (
        facts.change_state == "open"
        and facts.kind is EventKind.REVIEW
        and facts.action not in APPROVAL_ACTIONS
    )


def review_gate(facts: ReviewFacts) -> ReviewGate:
    """Whether to review the change now, or the outcome that stops it (first match wins).

    An unknown write access refuses (fail closed). An event for an older head reviews the
    current one when nothing else has: the newer head's own delivery may have been coalesced
    away (deliveries come in any order), and a head must never be left without a review.
    """
    if facts.number is None:
        return ReviewGate(ReviewState.IGNORED, "no change number")
    head = facts.change_head
    if facts.change_state != "open":
        return ReviewGate(ReviewState.SKIPPED, f"change is {facts.change_state}", head)
    if asks_write_access(facts) and not facts.sender_can_write:
        return ReviewGate(ReviewState.REFUSED, f"{facts.sender} may not run commands", head)
    if asks_review_record(facts) and facts.already_reviewed:
        # A stale event, or a second event for the same push (opened + synchronize, two hooks).
        state = ReviewState.SUPERSEDED if facts.event_head != head else ReviewState.DUPLICATE
        return ReviewGate(state, f"{(head or '')[:12]} is already reviewed", facts.event_head)
    if facts.is_fork and facts.fork_mode == "skip":
        return ReviewGate(ReviewState.FAILURE, "not rendered: fork", head)
    return ReviewGate(ReviewState.REVIEW, head_sha=head)


@dataclass(frozen=True)
class ReviewVerdict:
    """What a finished review publishes: the outcome state, the commit status and whether the
    comment and check run are written."""

    state: ReviewState  # success | failure | superseded | skipped
    status: State  # the commit status on the reviewed head
    publish: bool  # False: the head moved, the comment is left to the newer review
    set_status: bool = True  # False: the change was closed or merged, nothing is written


def review_verdict(
    result: State, reviewed_head: str, current_head: str, current_state: str = "open"
) -> ReviewVerdict:
    """The outcome of a review whose findings add up to `result`.

    A change closed or merged while the review ran gets neither comment nor status
    (skipped). When the head moved while the review ran, the status stays on the reviewed
    SHA only (with the review's own state) and the comment is left to the newer job, so a
    comment never mixes two heads. Otherwise anything below FAILURE passes.
    """
    if current_state != "open":
        return ReviewVerdict(ReviewState.SKIPPED, result, publish=False, set_status=False)
    if current_head != reviewed_head:
        return ReviewVerdict(ReviewState.SUPERSEDED, result, publish=False)
    if result < State.FAILURE:
        return ReviewVerdict(ReviewState.SUCCESS, State.SUCCESS, publish=True)
    return ReviewVerdict(ReviewState.FAILURE, State.FAILURE, publish=True)


@dataclass(frozen=True)
class DeployFacts:
    """What the deploy gate looks at, for one pushed SHA; None: not looked up."""

    sha: str
    environments: tuple[str, ...]
    change_number: int | None = None  # the merged change that produced `sha` (None: none)
    change_head: str | None = None  # that change's head SHA (what was reviewed)
    review_passed: bool | None = None  # a passing review (with approvals) at change_head
    # per environment: the digests of the objects rendered at `sha` and at change_head
    digests: Mapping[str, tuple[str, str]] | None = None
    # a passing review of exactly `sha` (a merge queue reviewed the commit it then merged)
    merged_reviewed: bool | None = None


def asks_merged_review(facts: DeployFacts) -> bool:
    """Whether a review of the merged SHA itself may decide (it differs from the head)."""
    return (
        facts.change_number is not None
        and bool(facts.review_passed)
        and facts.change_head != facts.sha
    )


def asks_render_compare(facts: DeployFacts) -> bool:
    """Whether the merged SHA must be rendered beside the reviewed head (merge commit or
    squash of a change whose review passed, unless the merged SHA was reviewed itself)."""
    return (
        facts.change_number is not None
        and bool(facts.review_passed)
        and facts.change_head != facts.sha
        and not facts.merged_reviewed
    )


def deploy_gate(facts: DeployFacts) -> dict[str, str | None]:
    """Per environment, None when `sha` may deploy there, else why it may not.

    `sha` must come from a merged change whose review passed at its head; when the merge
    result is not that head, it must have been reviewed itself (a merge queue's commit) or
    render exactly like the head (merge-skew guard). Digests that were not computed refuse
    (fail closed).
    """
    sha, number, head = facts.sha, facts.change_number, facts.change_head or ""
    if number is None:
        reason = f"{sha[:12]} was pushed to the protected branch without a reviewed change request"
        return dict.fromkeys(facts.environments, reason)
    if not facts.review_passed:
        reason = (
            f"change #{number} has no passing gitops-bot review (with its required "
            f"approvals) at its head {head[:12]}"
        )
        return dict.fromkeys(facts.environments, reason)
    if head == sha or facts.merged_reviewed:
        return dict.fromkeys(facts.environments, None)
    verdicts: dict[str, str | None] = {}
    for env in facts.environments:
        merged, reviewed = (facts.digests or {}).get(env, ("", "-"))
        verdicts[env] = (
            None
            if merged and merged == reviewed
            else (
                f"the merge result {sha[:12]} renders differently in {env} from the reviewed "
                f"head {head[:12]} of change #{number}; update the branch and review it again"
            )
        )
    return verdicts


def change_verdict(checks: State, missing_approvals: int) -> Verdict:
    """The gate of a change, the same for `check` and the service: FAILED when a check fails
    (`checks`: the worst state of every target and finding), else NEEDS_APPROVAL while
    approvals the policies require are missing, else PASSED (`bot.outcomes.Verdict`)."""
    if checks >= State.FAILURE:
        return Verdict.FAILED
    return Verdict.NEEDS_APPROVAL if missing_approvals > 0 else Verdict.PASSED


def review_outcome(result: ReviewResult) -> Verdict:
    """`change_verdict` of a review result (approvals count only where they are enforced)."""
    checks = worst(
        [t.state for t in result.targets] + [f.severity.state for f in result.findings],
        default=State.SUCCESS,
    )
    missing = (
        sum(1 for a in result.approvals if not a.satisfied) if result.approvals_enforced else 0
    )
    return change_verdict(checks, missing)


ANY_REVIEWER = "*"
MAX_CANDIDATES = 10


def group_matches(group: str, team: str) -> bool:
    """Whether membership of `team` (as a forge reports it: GitHub `org/slug`, GitLab a group
    path) counts for an approval requirement's `group`: a team slug (`platform`), a full name
    (`acme/platform`), or several separated by commas (any of them); `*` is anyone."""
    name = team.strip().lower()
    for wanted in (g.strip().lower() for g in group.split(",")):
        if wanted and (wanted == ANY_REVIEWER or name == wanted or name.endswith("/" + wanted)):
            return True
    return False


def asks_team_members(requirements: Sequence[ApprovalRequirement]) -> bool:
    """Whether a missing approval names a team, so the job looks up who is in it."""
    return any(not r.satisfied and r.group != ANY_REVIEWER for r in requirements)


def approval_candidates(
    requirement: ApprovalRequirement, teams: Mapping[str, Sequence[str]], author: str
) -> tuple[str, ...]:
    """Who could give `requirement`'s missing approvals: members (with write access, as
    `teams` lists them) of the teams its group names, but not the change's author and not
    those who approved already; sorted, at most MAX_CANDIDATES. Nobody is listed for `*`
    (anyone with write access) or for a satisfied requirement."""
    if requirement.satisfied or requirement.group == ANY_REVIEWER:
        return ()
    taken = {u.lower() for u in requirement.satisfied_by} | {author.lower()}
    people = {
        m
        for team, members in teams.items()
        if group_matches(requirement.group, team)
        for m in members
        if m.lower() not in taken
    }
    return tuple(sorted(people, key=str.lower)[:MAX_CANDIDATES])
