"""PURE: who may give an override or break-glass, and what a command does — decided from
facts the job looked up at the time of the command (membership read from the forge, the
rules denying the head as its last review found them, the records given at that head), never
from the comment text. `bot.governance` folds the records and applies what is in force.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.commands import (
    BREAK_GLASS,
    BREAK_GLASS_CONFIRM,
    BREAK_GLASS_WITHDRAW,
    OVERRIDE,
    OVERRIDE_WITHDRAW,
    Command,
)
from bot.markers import BREAK_GLASS_COMMAND
from bot.governance import (
    CONFIRMED,
    DEFAULT_WINDOW,
    OVERRIDDEN,
    OVERRIDE_WITHDRAWN,
    REQUESTED,
    WITHDRAWN,
    Governance,
)


@dataclass(frozen=True)
class CommandFacts:
    """What a governance command is judged on; None: not looked up."""

    command: Command
    sender: str
    change_state: str  # "open" | "closed" | "merged"
    governance: Governance  # in force at the change's current head
    break_glass_group: str = ""  # "" when break-glass is not configured
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
        return _refuse(
            f"the change is {facts.change_state}: overrides and break-glass apply "
            "to open changes only"
        )
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
            return _refuse(f"only {current.by} or an owner of `{rule}` may withdraw its override")
        return CommandVerdict(
            True,
            f"The override of `{rule}` by {current.by} is withdrawn.",
            OVERRIDE_WITHDRAWN,
            rule,
            review_again=True,
        )
    if facts.denied_rules is None:
        return _refuse("this commit has no finished review yet; wait for it, then override")
    if rule not in facts.denied_rules:
        denying = ", ".join(f"`{r}`" for r in sorted(facts.denied_rules)) or "none"
        return _refuse(f"`{rule}` does not deny this commit (rules that do: {denying})")
    owners = facts.denied_rules[rule]
    if not owners:
        return _refuse(
            f"the policy names no owners for `{rule}`, so it cannot be "
            "overridden (only break-glass passes it)"
        )
    if not _member(facts):
        return _refuse(f"{who} is not a member of {_groups(owners)}, the owners of `{rule}`")
    if current is not None:
        return _refuse(f"`{rule}` is already overridden by {current.by}")
    return CommandVerdict(
        True,
        f"`{rule}` is overridden by {who} for this commit only: {cmd.reason}",
        OVERRIDDEN,
        rule,
        cmd.reason,
        review_again=True,
    )


def _break_glass(facts: CommandFacts, cmd: Command, who: str) -> CommandVerdict:
    group, gov = facts.break_glass_group, facts.governance
    if not group:
        return _refuse("break-glass is not configured on this bot (GITOPS_BOT_BREAK_GLASS_GROUP)")
    if cmd.word == BREAK_GLASS_WITHDRAW:
        glass = gov.break_glass
        if glass is None:
            return _refuse("there is no break-glass to withdraw at this commit")
        if who not in (glass.requested_by, glass.confirmed_by) and not _member(facts):
            return _refuse(
                f"only {glass.requested_by}, the confirmer or a member of {group} "
                "may withdraw break-glass"
            )
        return CommandVerdict(
            True,
            f"Break-glass requested by {glass.requested_by} is withdrawn.",
            WITHDRAWN,
            review_again=glass.active,
        )
    if not _member(facts):
        return _refuse(f"{who} is not a member of {group}, the break-glass group")
    if gov.active_break_glass is not None:
        return _refuse(f"break-glass by {gov.active_break_glass.names} is already in effect")
    within = _duration(facts.window)
    if cmd.word == BREAK_GLASS:
        if gov.pending is not None:
            return _refuse(
                f"a break-glass request by {gov.pending.requested_by} is waiting for confirmation"
            )
        return CommandVerdict(
            True,
            f"Break-glass requested by {who}: {cmd.reason}. A second, "
            f"different member of {group} must confirm within {within} "
            f"with `{BREAK_GLASS_COMMAND} confirm`.",
            REQUESTED,
            reason=cmd.reason,
        )
    pending = gov.pending
    if pending is None:
        late = (
            f" (the request by {gov.expired.requested_by} expired after {within})"
            if gov.expired
            else ""
        )
        return _refuse(f"there is no break-glass request to confirm{late}")
    if pending.requested_by == who:
        return _refuse(
            "break-glass needs a second, different member of "
            f"{group} to confirm; {who} made the request"
        )
    return CommandVerdict(
        True,
        f"BREAK-GLASS by {pending.requested_by} and {who}: {pending.reason}",
        CONFIRMED,
        reason=pending.reason,
        review_again=True,
    )


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
                str(o) for o in (owners if isinstance(owners, (list, tuple)) else ())
            )
    return {rule: tuple(sorted(owners)) for rule, owners in rules.items()}
