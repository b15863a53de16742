"""PURE: overrides and break-glass, as data in, data out.

The state of one head SHA is folded from its append-only records (`governance_at`); a
command is accepted or refused from facts the job looked up at the time of the command —
membership read from the forge, the rules denying the head as its last review found them
(`command_verdict`); an accepted state is applied to a review result (`waive`). Nothing here
does I/O or trusts the comment text for authority.

- An **override** passes the findings of one policy rule at one head SHA; only members of
  the groups the policy names as that rule's owners may give it (a rule whose findings name
  no owner cannot be overridden).
- **Break-glass** passes every policy denial and the approvals the policies require, at one
  head SHA, once a second, different member of the break-glass group confirms the request
  within the time box. Render, schema and every other error still fail.
- Both count for the head SHA they were given on only, and can be withdrawn before merge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import Finding, ReviewResult, Severity, State, TargetResult, worst

# Record kinds (bot.store.AUDIT_KINDS) of the governance actions.
OVERRIDDEN, OVERRIDE_WITHDRAWN = "override", "override.withdrawn"
REQUESTED, CONFIRMED, WITHDRAWN = (
    "break_glass.requested",
    "break_glass.confirmed",
    "break_glass.withdrawn",
)
RECORD_KINDS = (OVERRIDDEN, OVERRIDE_WITHDRAWN, REQUESTED, CONFIRMED, WITHDRAWN)
DEFAULT_WINDOW = 3600.0


@dataclass(frozen=True)
class GovRecord:
    """One accepted governance action as stored (`at` in epoch seconds)."""

    kind: str
    actor: str
    sha: str
    at: float
    rule: str | None = None
    reason: str = ""
    groups: tuple[str, ...] = ()  # override: the owner groups the actor was a member of


@dataclass(frozen=True)
class Override:
    """An override of `rule` by `by`, a member of the owner groups `groups`, with a reason.
    It passes the rule's findings that name one of those groups as an owner, no others."""

    rule: str
    by: str
    reason: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class BreakGlass:
    """A break-glass request, and its confirmation once given."""

    requested_by: str
    reason: str
    requested_at: float
    confirmed_by: str | None = None

    @property
    def active(self) -> bool:
        return self.confirmed_by is not None

    @property
    def names(self) -> str:
        """ "A and B" for the status description."""
        return f"{self.requested_by} and {self.confirmed_by}"


@dataclass(frozen=True)
class Governance:
    """The overrides and break-glass in force (or waiting) at one head SHA."""

    overrides: tuple[Override, ...] = ()
    break_glass: BreakGlass | None = None  # active, or a request waiting for confirmation
    expired: BreakGlass | None = None  # a request whose time box ran out unconfirmed

    @property
    def active_break_glass(self) -> BreakGlass | None:
        return self.break_glass if self.break_glass and self.break_glass.active else None

    @property
    def pending(self) -> BreakGlass | None:
        return self.break_glass if self.break_glass and not self.break_glass.active else None

    def override_of(self, rule: str) -> Override | None:
        return next((o for o in self.overrides if o.rule == rule), None)


def governance_at(
    records: Sequence[GovRecord], sha: str, now: float, window: float = DEFAULT_WINDOW
) -> Governance:
    """Fold the records of `sha` (in the order written) into what is in force now."""
    overrides: dict[str, Override] = {}
    glass: BreakGlass | None = None
    for r in records:
        if r.sha != sha:
            continue
        if r.kind == OVERRIDDEN and r.rule:
            overrides[r.rule] = Override(r.rule, r.actor, r.reason, r.groups)
        elif r.kind == OVERRIDE_WITHDRAWN and r.rule:
            overrides.pop(r.rule, None)
        elif r.kind == REQUESTED:
            glass = BreakGlass(r.actor, r.reason, r.at)
        elif r.kind == CONFIRMED and glass is not None and not glass.active:
            glass = dataclasses.replace(glass, confirmed_by=r.actor)
        elif r.kind == WITHDRAWN:
            glass = None
    expired = None
    if glass is not None and not glass.active and now - glass.requested_at > window:
        glass, expired = None, glass
    return Governance(tuple(overrides[k] for k in sorted(overrides)), glass, expired)


@dataclass(frozen=True)
class Waived:
    """A review result after the governance in force, and the status description to use."""

    result: ReviewResult
    description: str | None = None  # None: the usual status line


def waive(result: ReviewResult, gov: Governance) -> Waived:
    """Apply overrides and an active break-glass to `result`.

    Only policy findings of severity ERROR are passed (they become warnings that say who
    passed them); every other finding keeps failing. Break-glass also stops enforcing the
    approvals the policies require.
    """
    glass = gov.active_break_glass
    if glass is None and not gov.overrides:
        return Waived(result)
    by_rule = {o.rule: o for o in gov.overrides}

    def fix(f: Finding) -> Finding:
        if f.check != "policy" or f.severity is not Severity.ERROR:
            return f
        o = by_rule.get(f.rule or "")
        if glass is not None:
            why = f"break-glass by {glass.names}"
        elif o is not None and set(o.groups) & set(f.owners):
            why = f"overridden by {o.by}: {o.reason}"
        else:
            return f
        return dataclasses.replace(
            f, severity=Severity.WARNING, waived=why, message=f"[{why}] {f.message}"
        )

    def fix_target(t: TargetResult) -> TargetResult:
        findings = tuple(fix(f) for f in t.findings)
        if findings == t.findings:
            return t
        return dataclasses.replace(
            t,
            findings=findings,
            state=worst((f.severity.state for f in findings), default=State.SUCCESS),
        )

    notes = list(result.notes)
    for o in gov.overrides:
        notes.append(f"Override: `{o.rule}` passed by {o.by} for this commit only: {o.reason}")
    changed = dataclasses.replace(
        result,
        targets=tuple(fix_target(t) for t in result.targets),
        findings=tuple(fix(f) for f in result.findings),
    )
    description = None
    if glass is not None:
        notes.insert(
            0,
            f"🚨 BREAK-GLASS by {glass.names}: {glass.reason}. Policy denials and "
            "required approvals do not block this commit; render and schema "
            "errors still do.",
        )
        changed = dataclasses.replace(changed, approvals_enforced=False)
        if changed.state < State.FAILURE:  # failing anyway: the usual line says what fails
            description = f"break-glass by {glass.names}"
    return Waived(dataclasses.replace(changed, notes=tuple(notes)), description)
