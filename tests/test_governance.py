"""bot.governance and bot.authority: the state folded from records, each command's verdict,
and what an override or break-glass does (and does not do) to a review result."""

from __future__ import annotations

import pytest

from bot.commands import parse_command
from bot.authority import CommandFacts, command_verdict, denied_rules, groups_to_check
from bot.governance import (
    CONFIRMED,
    OVERRIDDEN,
    OVERRIDE_WITHDRAWN,
    REQUESTED,
    WITHDRAWN,
    GovRecord,
    Governance,
    Override,
    governance_at,
    waive,
)
from bot.model import (
    ApprovalRequirement,
    Finding,
    ReviewResult,
    Severity,
    State,
    Target,
    TargetResult,
)

HEAD, OLD = "a" * 40, "b" * 40
T0 = 1_000_000.0


def rec(
    kind: str,
    actor: str,
    at: float = T0,
    sha: str = HEAD,
    rule: str | None = None,
    reason: str = "",
    groups: tuple[str, ...] = ("platform",),
) -> GovRecord:
    return GovRecord(kind, actor, sha, at, rule, reason, groups)


def test_state_is_folded_per_sha_in_order() -> None:
    records = [
        rec(OVERRIDDEN, "carol", rule="main.deny", reason="r1"),
        rec(OVERRIDDEN, "carol", sha=OLD, rule="main.warn"),
        rec(REQUESTED, "ann", reason="INC-1"),
        rec(CONFIRMED, "ben", at=T0 + 60),
    ]
    gov = governance_at(records, HEAD, now=T0 + 120)
    assert [o.rule for o in gov.overrides] == ["main.deny"]  # the old SHA's does not count
    assert gov.active_break_glass is not None and gov.active_break_glass.names == "ann and ben"
    later = governance_at(
        [*records, rec(OVERRIDE_WITHDRAWN, "carol", rule="main.deny"), rec(WITHDRAWN, "ben")],
        HEAD,
        now=T0 + 200,
    )
    assert later == Governance()
    assert governance_at(records, OLD, now=T0).break_glass is None


def test_an_unconfirmed_request_expires_after_the_time_box() -> None:
    records = [rec(REQUESTED, "ann", reason="INC-1")]
    assert governance_at(records, HEAD, now=T0 + 3599).pending is not None
    late = governance_at(records, HEAD, now=T0 + 3601)
    assert late.pending is None and late.expired is not None
    # a confirmation that came in time keeps it in force for good
    kept = governance_at([*records, rec(CONFIRMED, "ben", at=T0 + 3000)], HEAD, now=T0 + 99999)
    assert kept.active_break_glass is not None
    assert governance_at(records, HEAD, now=T0 + 100, window=60).expired is not None


def facts(
    line: str,
    sender: str = "carol",
    *,
    state: str = "open",
    gov: Governance = Governance(),
    member: bool = True,
    denied: dict[str, tuple[str, ...]] | None = None,
    group: str = "acme/sre",
) -> CommandFacts:
    base = CommandFacts(
        parse_command(line),
        sender,
        state,
        gov,
        group,
        denied_rules={"main.deny": ("platform",), "main.orphan": ()} if denied is None else denied,
    )
    groups = groups_to_check(base)
    return CommandFacts(
        base.command,
        sender,
        state,
        gov,
        group,
        denied_rules=base.denied_rules,
        member_of=groups if member else (),
    )


OVERRIDE = "/gitops-bot override main.deny -- vendor image, OPS-7"


def test_override_by_an_owner_is_accepted_for_review_again() -> None:
    verdict = command_verdict(facts(OVERRIDE))
    assert verdict.accepted and verdict.record == OVERRIDDEN and verdict.review_again
    assert (verdict.rule, verdict.reason) == ("main.deny", "vendor image, OPS-7")
    assert groups_to_check(facts(OVERRIDE)) == ("platform",)


@pytest.mark.parametrize(
    "kwargs,line,message",
    [
        ({"member": False}, OVERRIDE, "carol is not a member of platform, the owners"),
        ({}, "/gitops-bot override main.orphan -- x", "names no owners for `main.orphan`"),
        ({}, "/gitops-bot override main.warn -- x", "does not deny this commit"),
        ({"denied": {}}, OVERRIDE, "rules that do: none"),
        ({"state": "merged"}, OVERRIDE, "the change is merged"),
        (
            {"gov": Governance(overrides=(Override("main.deny", "dan", "r"),))},
            OVERRIDE,
            "already overridden by dan",
        ),
        ({}, "/gitops-bot override withdraw main.deny", "is not overridden"),
    ],
)
def test_override_refusals(kwargs: dict, line: str, message: str) -> None:
    verdict = command_verdict(facts(line, **kwargs))
    assert not verdict.accepted and message in verdict.message and verdict.record is None


def test_override_needs_a_finished_review() -> None:
    base = facts(OVERRIDE)
    no_review = CommandFacts(
        base.command,
        "carol",
        "open",
        Governance(),
        "acme/sre",
        denied_rules=None,
        member_of=("platform",),
    )
    assert "no finished review" in command_verdict(no_review).message


def test_withdrawal_by_the_owner_or_the_overrider() -> None:
    gov = governance_at([rec(OVERRIDDEN, "dan", rule="main.deny", reason="r")], HEAD, T0)
    line = "/gitops-bot override withdraw main.deny"
    assert command_verdict(facts(line, "dan", gov=gov, member=False)).record == OVERRIDE_WITHDRAWN
    assert command_verdict(facts(line, "erin", gov=gov)).accepted  # an owner
    refused = command_verdict(facts(line, "mallory", gov=gov, member=False))
    assert not refused.accepted and "only dan or an owner" in refused.message


GLASS = "/gitops-bot break-glass -- production down, INC-42"
CONFIRM = "/gitops-bot break-glass confirm"


def test_break_glass_needs_two_different_members_within_the_time_box() -> None:
    asked = command_verdict(facts(GLASS, "ann"))
    assert asked.accepted and asked.record == REQUESTED and not asked.review_again
    assert "within 60 minutes" in asked.message
    gov = governance_at([rec(REQUESTED, "ann", reason="production down, INC-42")], HEAD, T0)
    alone = command_verdict(facts(CONFIRM, "ann", gov=gov))
    assert not alone.accepted and "second, different member" in alone.message
    outsider = command_verdict(facts(CONFIRM, "mallory", gov=gov, member=False))
    assert not outsider.accepted and "not a member of acme/sre" in outsider.message
    second = command_verdict(facts(CONFIRM, "ben", gov=gov))
    assert second.accepted and second.record == CONFIRMED and second.review_again
    assert "BREAK-GLASS by ann and ben" in second.message
    expired = governance_at([rec(REQUESTED, "ann")], HEAD, T0 + 4000)
    late = command_verdict(facts(CONFIRM, "ben", gov=expired))
    assert not late.accepted and "expired after 60 minutes" in late.message


def test_break_glass_refusals_and_withdrawal() -> None:
    assert "not configured" in command_verdict(facts(GLASS, group="")).message
    pending = governance_at([rec(REQUESTED, "ann")], HEAD, T0)
    assert "waiting for confirmation" in command_verdict(facts(GLASS, "ben", gov=pending)).message
    active = governance_at([rec(REQUESTED, "ann"), rec(CONFIRMED, "ben")], HEAD, T0)
    assert "already in effect" in command_verdict(facts(GLASS, "cat", gov=active)).message
    out = command_verdict(
        facts("/gitops-bot break-glass withdraw", "ben", gov=active, member=False)
    )
    assert out.accepted and out.record == WITHDRAWN and out.review_again
    assert not command_verdict(facts("/gitops-bot break-glass withdraw", "zed")).accepted


def result(*findings: Finding, approvals: tuple[ApprovalRequirement, ...] = ()) -> ReviewResult:
    target = Target("shop", "production", "plain", "apps/shop")
    state = max((f.severity.state for f in findings), default=State.SUCCESS)
    return ReviewResult(
        "b" * 40, HEAD, (TargetResult(target, state, findings=findings),), approvals=approvals
    )


DENY = Finding(Severity.ERROR, "policy", "image is :latest", rule="main.deny", owners=("platform",))
OTHER = Finding(Severity.ERROR, "policy", "no limits", rule="main.limits")
SCHEMA = Finding(Severity.ERROR, "validate", "spec.replicas: expected integer")
TWO = (ApprovalRequirement("*", 2, "changes production"),)


def test_an_override_passes_its_rule_only() -> None:
    gov = governance_at([rec(OVERRIDDEN, "carol", rule="main.deny", reason="OPS-7")], HEAD, T0)
    one = waive(result(DENY), gov)
    assert one.result.state is State.WARNING and one.description is None
    [f] = one.result.targets[0].findings
    assert f.severity is Severity.WARNING and f.waived == "overridden by carol: OPS-7"
    assert f.message.startswith("[overridden by carol: OPS-7] ")
    assert any("`main.deny` passed by carol" in n for n in one.result.notes)
    assert waive(result(DENY, OTHER), gov).result.state is State.FAILURE
    assert waive(result(DENY), Governance()).result == result(DENY)
    # The same rule name from another policy set, naming other owners (or none), stays.
    server = Finding(Severity.ERROR, "policy", "server says no", rule="main.deny")
    security = Finding(
        Severity.ERROR, "policy", "security says no", rule="main.deny", owners=("security",)
    )
    assert waive(result(DENY, server), gov).result.state is State.FAILURE
    assert waive(result(DENY, security), gov).result.state is State.FAILURE


def test_break_glass_passes_policy_and_approvals_never_schema_errors() -> None:
    gov = governance_at([rec(REQUESTED, "ann", reason="INC-42"), rec(CONFIRMED, "ben")], HEAD, T0)
    passed = waive(result(DENY, OTHER, approvals=TWO), gov)
    assert passed.result.state is State.WARNING
    assert passed.description == "break-glass by ann and ben"
    assert passed.result.notes[0].startswith("🚨 BREAK-GLASS by ann and ben: INC-42")
    blocked = waive(result(DENY, SCHEMA), gov)
    assert blocked.result.state is State.FAILURE and blocked.description is None
    assert result(DENY, approvals=TWO).state is State.FAILURE
    pending = governance_at([rec(REQUESTED, "ann")], HEAD, T0)
    assert waive(result(DENY), pending).result.state is State.FAILURE


def test_denied_rules_come_from_stored_findings_waived_ones_included() -> None:
    gov = governance_at([rec(OVERRIDDEN, "carol", rule="main.deny", reason="r")], HEAD, T0)
    stored = [
        f.to_dict() for f in waive(result(DENY, OTHER, SCHEMA), gov).result.targets[0].findings
    ]
    assert denied_rules(stored) == {"main.deny": ("platform",), "main.limits": ()}
