"""The hidden markers of the bot's comments and its comment command words, defined once.

A marker is the first line of a comment the bot owns, one marker per comment kind (the
deploy comment has one per environment). The bot edits a comment only when it wrote it and
its first line is exactly the marker (`owns`): a marker quoted further down — a manifest
annotation shown in a diff, an error message — never makes one kind of comment replace
another (docs/security.md#case-107).
"""

from __future__ import annotations

import re
from urllib.parse import quote

REVIEW = "<!-- gitops-bot:review -->"
REFUSAL = "<!-- gitops-bot:refusal -->"
# The loud comment break-glass posts on the change (requested, in effect, withdrawn).
BREAK_GLASS = "<!-- gitops-bot:breakglass -->"
_DEPLOY = "<!-- gitops-bot:deploy env={} -->"
_SHAPE = re.compile(r"^<!-- gitops-bot:(?P<kind>[a-z]+)(?: [A-Za-z0-9%._=~-]+)? -->$")

# Comment commands: a comment whose first line starts with COMMAND_PREFIX is a command.
COMMAND_PREFIX = "/gitops-bot"
RECHECK = f"{COMMAND_PREFIX} recheck"
# Governance commands (bot.commands reads their grammar): a rule override by its owners, and
# break-glass by two members of the configured group.
OVERRIDE = f"{COMMAND_PREFIX} override"
BREAK_GLASS_COMMAND = f"{COMMAND_PREFIX} break-glass"
GOVERNANCE = (OVERRIDE, BREAK_GLASS_COMMAND)


def deploy(environment: str) -> str:
    """The marker of the deploy comment for `environment` (any name, safely encoded)."""
    return _DEPLOY.format(quote(environment, safe=""))


def kind_of(marker: str) -> str | None:
    """The comment kind a marker names ("review", "deploy", "refusal", "breakglass"), None
    if not one."""
    found = _SHAPE.match(marker)
    return found.group("kind") if found else None


def first_line(body: str) -> str:
    """The first line of a comment body (forges may store CRLF line ends)."""
    return body.split("\n", 1)[0].removesuffix("\r")


def owns(body: str, marker: str) -> bool:
    """Whether a comment body belongs to the comment kind of `marker` (its exact first line)."""
    if kind_of(marker) is None:
        raise ValueError(f"not a gitops-bot marker: {marker!r}")
    return first_line(body) == marker


def marked(body: str, marker: str) -> str:
    """`body` with `marker` as its first line (added when the body does not start with it)."""
    return body if owns(body, marker) else f"{marker}\n{body}"
