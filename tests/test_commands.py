"""The comment commands' grammar (bot.commands): what is read, and what is refused with a
message that says how to write it."""

from __future__ import annotations

import pytest

from bot.commands import (
    BREAK_GLASS,
    BREAK_GLASS_CONFIRM,
    BREAK_GLASS_WITHDRAW,
    OVERRIDE,
    OVERRIDE_WITHDRAW,
    RECHECK,
    Command,
    CommandError,
    parse_command,
)


@pytest.mark.parametrize(
    "line,expected",
    [
        ("/gitops-bot recheck", Command(RECHECK)),
        (
            "/gitops-bot override main.deny -- vendor image, ticket OPS-7",
            Command(OVERRIDE, "main.deny", "vendor image, ticket OPS-7"),
        ),
        (
            "/gitops-bot override gitops.change.deny -- a -- b",
            Command(OVERRIDE, "gitops.change.deny", "a -- b"),
        ),
        ("/gitops-bot override withdraw main.deny", Command(OVERRIDE_WITHDRAW, "main.deny")),
        (
            "/gitops-bot break-glass -- prod is down, INC-42",
            Command(BREAK_GLASS, None, "prod is down, INC-42"),
        ),
        ("/gitops-bot break-glass confirm", Command(BREAK_GLASS_CONFIRM)),
        ("/gitops-bot break-glass withdraw", Command(BREAK_GLASS_WITHDRAW)),
    ],
)
def test_commands_are_read(line: str, expected: Command) -> None:
    assert parse_command(line) == expected


@pytest.mark.parametrize(
    "line,message",
    [
        ("/gitops-bot override main.deny", "override needs a reason"),
        ("/gitops-bot override main.deny --", "override needs a reason"),
        ("/gitops-bot override -- because", "write `/gitops-bot override <rule> -- <reason>`"),
        ("/gitops-bot override deny -- x", "not a policy rule name"),
        ("/gitops-bot override main.deny; rm -rf / -- x", "write"),
        ("/gitops-bot break-glass", "break-glass needs a reason"),
        ("/gitops-bot break-glass because", "write"),
        ("/gitops-bot break-glass confirm now", "write"),
        ("/gitops-bot approve", "unknown command `approve`"),
        ("/gitops-bot", "not a /gitops-bot command"),
    ],
)
def test_malformed_commands_say_how_to_write_them(line: str, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        parse_command(line)
