"""PURE: the comment commands (bot.markers defines their words), parsed from the command
line of a comment. After the prefix:

    recheck
    override <rule> -- <reason>          override withdraw <rule>
    break-glass -- <reason>              break-glass confirm         break-glass withdraw

Parsing says nothing about who may run a command: the job asks the forge at the time of
the command (bot.authority decides on what it found), never the comment text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.markers import BREAK_GLASS_COMMAND, COMMAND_PREFIX
from bot.markers import OVERRIDE as OVERRIDE_COMMAND

RECHECK = "recheck"
OVERRIDE, OVERRIDE_WITHDRAW = "override", "override.withdraw"
BREAK_GLASS, BREAK_GLASS_CONFIRM, BREAK_GLASS_WITHDRAW = (
    "break-glass",
    "break-glass.confirm",
    "break-glass.withdraw",
)
# A rule as the report names it: `<package>.<rule>`, e.g. `main.deny`, `gitops.change.deny`.
_RULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
MAX_REASON = 500
USAGE = (
    f"`{OVERRIDE_COMMAND} <rule> -- <reason>`, `{OVERRIDE_COMMAND} withdraw <rule>`, "
    f"`{BREAK_GLASS_COMMAND} -- <reason>`, `{BREAK_GLASS_COMMAND} confirm`, "
    f"`{BREAK_GLASS_COMMAND} withdraw`"
)


class CommandError(ValueError):
    """A command the bot cannot read; the message says how to write it."""


@dataclass(frozen=True)
class Command:
    """One parsed command: `word` is one of the constants above."""

    word: str
    rule: str | None = None
    reason: str = ""


def _reason(text: str, what: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise CommandError(
            f"{what.split()[0]} needs a reason after ` -- `, e.g. "
            f"`{COMMAND_PREFIX} {what} -- incident 123: restore service`"
        )
    if len(reason) > MAX_REASON:
        raise CommandError(f"the reason is longer than {MAX_REASON} characters")
    return reason


def parse_command(line: str) -> Command:
    """The command of a comment's first line (as `bot.forges.payload.command` gives it)."""
    words = line.split(None, 2)
    if len(words) < 2 or words[0] != COMMAND_PREFIX:
        raise CommandError(f"not a {COMMAND_PREFIX} command")
    verb, rest = words[1], words[2] if len(words) > 2 else ""
    if verb == RECHECK:
        return Command(RECHECK)
    if verb == OVERRIDE:
        if rest.rstrip().endswith(" --"):  # a separator with nothing after it
            rest = rest.rstrip() + " "
        head, sep, reason = rest.partition(" -- ")
        parts = head.split()
        if not sep and len(parts) == 2 and parts[0] == "withdraw":
            return Command(OVERRIDE_WITHDRAW, rule=_rule(parts[1]))
        if len(parts) != 1:
            raise CommandError(f"write {USAGE}")
        rule = _rule(parts[0])
        return Command(OVERRIDE, rule=rule, reason=_reason(reason, f"override {rule}"))
    if verb == BREAK_GLASS:
        if rest.strip() == "confirm":
            return Command(BREAK_GLASS_CONFIRM)
        if rest.strip() == "withdraw":
            return Command(BREAK_GLASS_WITHDRAW)
        if rest.strip() in ("", "--"):
            return Command(BREAK_GLASS, reason=_reason("", "break-glass"))
        if not rest.startswith("-- "):
            raise CommandError(f"write {USAGE}")
        return Command(BREAK_GLASS, reason=_reason(rest[3:], "break-glass"))
    raise CommandError(
        f"unknown command `{verb}`; the commands are `{COMMAND_PREFIX} {RECHECK}`, {USAGE}"
    )


def _rule(text: str) -> str:
    if not _RULE.fullmatch(text) or len(text) > 200:
        raise CommandError(
            f"`{text}` is not a policy rule name as the report shows it (e.g. `main.deny`)"
        )
    return text
