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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.commands import (BREAK_GLASS, BREAK_GLASS_CONFIRM, BREAK_GLASS_WITHDRAW, OVERRIDE,
                          OVERRIDE_WITHDRAW, Command)
from bot.model import Finding, ReviewResult, Severity, State, TargetResult, worst

# Record kinds (bot.store.AUDIT_KINDS) of the governance actions.
OVERRIDDEN, OVERRIDE_WITHDRAWN = "override", "override.withdrawn"
REQUESTED, CONFIRMED, WITHDRAWN = ("break_glass.requested", "break_glass.confirmed",
                                   "break_glass.withdrawn")
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
        """"A and B" for the status description."""
        return f"{self.requested_by} and {self.confirmed_by}"


@dataclass(frozen=True)
class Governance:
    """The overrides and break-glass in force (or waiting) at one head SHA."""

    overrides: tuple[Override, ...] = ()
    break_glass: BreakGlass | None = None   # active, or a request waiting for confirmation
    expired: BreakGlass | None = None       # a request whose time box ran out unconfirmed

    @property
    def active_break_glass(self) -> BreakGlass | None:
        return self.break_glass if self.break_glass and self.break_glass.active else None

    @property
    def pending(self) -> BreakGlass | None:
        return self.break_glass if self.break_glass and not self.break_glass.active else None

    def override_of(self, rule: str) -> Override | None:
        return next((o for o in self.overrides if o.rule == rule), None)


def governance_at(records: Sequence[GovRecord], sha: str, now: float,
                  window: float = DEFAULT_WINDOW) -> Governance:
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
class CommandFacts:
    """What a governance command is judged on; None: not looked up."""

    command: Command
    sender: str
    change_state: str                  # "open" | "closed" | "merged"
    governance: Governance             # in force at the change's current head
    break_glass_group: str = ""        # "" when break-glass is not configured
    window: float = DEFAULT_WINDOW
    # rule -> owner groups, for the rules whose policy findings deny (or were waived at) the
    # head in its last finished review; None: the head has no finished review yet
    denied_rules: Mapping[str, tuple[str, ...]] | None = None
    member_of: tuple[str, ...] | None = None  # of `groups_to_check`, those the sender is in


@dataclass(frozen=True)
class CommandVerdict:
    """The answer to a command: a refusal, or the record to append (and review again?)."""

    accepted: bool
    message: str
    record: str | None = None
    rule: str | None = None
    reason: str = ""
    review_again: bool = False


def groups_to_check(facts: CommandFacts) -> tuple[str, ...]:
    """The groups whose membership of the sender the job must read from the forge."""
    word = facts.command.word
    if word in (OVERRIDE, OVERRIDE_WITHDRAW):
        return tuple((facts.denied_rules or {}).get(facts.command.rule or "", ()))
    if word in (BREAK_GLASS, BREAK_GLASS_CONFIRM, BREAK_GLASS_WITHDRAW):
        return (facts.break_glass_group,) if facts.break_glass_group else ()
    return ()


def _refuse(message: str) -> CommandVerdict:
    return CommandVerdict(False, message)


def _member(facts: CommandFacts) -> bool:
    return bool(facts.member_of)


def command_verdict(facts: CommandFacts) -> CommandVerdict:
    """Accept or refuse one governance command (first failing check wins)."""
    cmd, who = facts.command, facts.sender
    if facts.change_state != "open":
        return _refuse(f"the change is {facts.change_state}: overrides and break-glass apply "
                       "to open changes only")
    if cmd.word in (OVERRIDE, OVERRIDE_WITHDRAW):
        return _override(facts, cmd, who)
    if cmd.word in (BREAK_GLASS, BREAK_GLASS_CONFIRM, BREAK_GLASS_WITHDRAW):
        return _break_glass(facts, cmd, who)
    return _refuse(f"`{cmd.word}` is not a governance command")


def _override(facts: CommandFacts, cmd: Command, who: str) -> CommandVerdict:
    rule = cmd.rule or ""
    current = facts.governance.override_of(rule)
    if cmd.word == OVERRIDE_WITHDRAW:
        if current is None:
            return _refuse(f"`{rule}` is not overridden at this commit")
        if who != current.by and not _member(facts):
            return _refuse(f"only {current.by} or an owner of `{rule}` may withdraw its "
                           "override")
        return CommandVerdict(True, f"The override of `{rule}` by {current.by} is withdrawn.",
                              OVERRIDE_WITHDRAWN, rule, review_again=True)
    if facts.denied_rules is None:
        return _refuse("this commit has no finished review yet; wait for it, then override")
    if rule not in facts.denied_rules:
        denying = ", ".join(f"`{r}`" for r in sorted(facts.denied_rules)) or "none"
        return _refuse(f"`{rule}` does not deny this commit (rules that do: {denying})")
    owners = facts.denied_rules[rule]
    if not owners:
        return _refuse(f"the policy names no owners for `{rule}`, so it cannot be "
                       "overridden (only break-glass passes it)")
    if not _member(facts):
        return _refuse(f"{who} is not a member of {_groups(owners)}, the owners of `{rule}`")
    if current is not None:
        return _refuse(f"`{rule}` is already overridden by {current.by}")
    return CommandVerdict(True, f"`{rule}` is overridden by {who} for this commit only: "
                          f"{cmd.reason}", OVERRIDDEN, rule, cmd.reason, review_again=True)


def _break_glass(facts: CommandFacts, cmd: Command, who: str) -> CommandVerdict:
    group, gov = facts.break_glass_group, facts.governance
    if not group:
        return _refuse("break-glass is not configured on this bot "
                       "(GITOPS_BOT_BREAK_GLASS_GROUP)")
    if cmd.word == BREAK_GLASS_WITHDRAW:
        glass = gov.break_glass
        if glass is None:
            return _refuse("there is no break-glass to withdraw at this commit")
        if who not in (glass.requested_by, glass.confirmed_by) and not _member(facts):
            return _refuse(f"only {glass.requested_by}, the confirmer or a member of {group} "
                           "may withdraw break-glass")
        return CommandVerdict(True, f"Break-glass requested by {glass.requested_by} is "
                              "withdrawn.", WITHDRAWN, review_again=glass.active)
    if not _member(facts):
        return _refuse(f"{who} is not a member of {group}, the break-glass group")
    if gov.active_break_glass is not None:
        return _refuse(f"break-glass by {gov.active_break_glass.names} is already in effect")
    within = _duration(facts.window)
    if cmd.word == BREAK_GLASS:
        if gov.pending is not None:
            return _refuse(f"a break-glass request by {gov.pending.requested_by} is waiting "
                           "for confirmation")
        return CommandVerdict(True, f"Break-glass requested by {who}: {cmd.reason}. A second, "
                              f"different member of {group} must confirm within {within} "
                              "with `/gitops-bot break-glass confirm`.",
                              REQUESTED, reason=cmd.reason)
    pending = gov.pending
    if pending is None:
        late = (f" (the request by {gov.expired.requested_by} expired after {within})"
                if gov.expired else "")
        return _refuse(f"there is no break-glass request to confirm{late}")
    if pending.requested_by == who:
        return _refuse("break-glass needs a second, different member of "
                       f"{group} to confirm; {who} made the request")
    return CommandVerdict(True, f"BREAK-GLASS by {pending.requested_by} and {who}: "
                          f"{pending.reason}", CONFIRMED, reason=pending.reason,
                          review_again=True)


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds)} second{'s' if round(seconds) != 1 else ''}"


def _groups(groups: Sequence[str]) -> str:
    return " or ".join(groups)


def denied_rules(findings: Sequence[Mapping[str, object]]) -> dict[str, tuple[str, ...]]:
    """rule -> owner groups, from a stored review's findings (`Finding.to_dict` form): the
    policy findings that deny, or denied before an override or break-glass waived them."""
    rules: dict[str, set[str]] = {}
    for f in findings:
        rule = f.get("rule")
        if f.get("check") != "policy" or not isinstance(rule, str):
            continue
        if f.get("severity") == "error" or f.get("waived"):
            owners = f.get("owners")
            rules.setdefault(rule, set()).update(
                str(o) for o in (owners if isinstance(owners, (list, tuple)) else ()))
    return {rule: tuple(sorted(owners)) for rule, owners in rules.items()}


@dataclass(frozen=True)
class Waived:
    """A review result after the governance in force, and the status description to use."""

    result: ReviewResult
    description: str | None = None   # None: the usual status line


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
        return dataclasses.replace(f, severity=Severity.WARNING, waived=why,
                                   message=f"[{why}] {f.message}")

    def fix_target(t: TargetResult) -> TargetResult:
        findings = tuple(fix(f) for f in t.findings)
        if findings == t.findings:
            return t
        return dataclasses.replace(t, findings=findings, state=worst(
            (f.severity.state for f in findings), default=State.SUCCESS))

    notes = list(result.notes)
    for o in gov.overrides:
        notes.append(f"Override: `{o.rule}` passed by {o.by} for this commit only: {o.reason}")
    changed = dataclasses.replace(result, targets=tuple(fix_target(t) for t in result.targets),
                                  findings=tuple(fix(f) for f in result.findings))
    description = None
    if glass is not None:
        notes.insert(0, f"🚨 BREAK-GLASS by {glass.names}: {glass.reason}. Policy denials and "
                        "required approvals do not block this commit; render and schema "
                        "errors still do.")
        changed = dataclasses.replace(changed, approvals_enforced=False)
        if changed.state < State.FAILURE:  # failing anyway: the usual line says what fails
            description = f"break-glass by {glass.names}"
    return Waived(dataclasses.replace(changed, notes=tuple(notes)), description)
