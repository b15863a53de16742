"""Pure readers that take values out of untrusted webhook payloads, or refuse them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.errors import Ignored
from bot.forges.base import COMMAND_PREFIX, GOVERNANCE_COMMANDS, RECHECK_COMMAND, BadPayload
from bot.model import EventKind

_SHA = re.compile(r"[0-9a-f]{40}")
# owner/name, and for GitLab nested groups group/sub/name. Same charset as GitHub owner and
# repository names and GitLab paths; no "..", no leading "-" or "." (they would read as options
# or relative paths if they ever reached git, docs/security.md#no-shell).
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_LOGIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-\[\]]{0,99}")  # "octocat", "app-name[bot]"
# Branch names: stricter than git check-ref-format on purpose. No quotes, `$`, `;`, spaces or
# backslashes (docs/security.md#case-38), no leading "-" (never read as an option), no "..".
_BRANCH = re.compile(r"[A-Za-z0-9._/+-]{1,250}")
_DELIVERY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
MAX_INT = 2**31
ZERO_SHA = "0" * 40


def delivery(value: Any) -> str:
    """A delivery id (GitHub: a GUID; GitLab: a UUID), or BadPayload."""
    if not isinstance(value, str) or not _DELIVERY.fullmatch(value):
        raise BadPayload("delivery id is missing or malformed")
    return value


def forge_host(value: Any) -> str:
    """The forge host name the web tier was configured with, or BadPayload."""
    if not isinstance(value, str) or not _HOST.fullmatch(value):
        raise BadPayload("forge host is malformed")
    return value.lower()


def obj(payload: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """The mapping at `path` (keys), or BadPayload naming the missing key."""
    cur: Any = payload
    for i, key in enumerate(path):
        cur = cur.get(key) if isinstance(cur, Mapping) else None
        if not isinstance(cur, Mapping):
            raise BadPayload(f"payload field {'.'.join(path[: i + 1])} is missing or not an object")
    return cur  # type: ignore[no-any-return]


def sha(value: Any, field: str) -> str:
    """A full 40-hex commit SHA (lower case), or BadPayload."""
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        raise BadPayload(f"{field} is not a 40-character hex commit SHA")
    return value


def number(value: Any, field: str) -> int:
    """A positive int below 2**31 (PR numbers, MR iids, ids), or BadPayload."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < MAX_INT:
        raise BadPayload(f"{field} is not a positive integer below 2**31")
    return value


def repo_name(value: Any, field: str, *, max_segments: int = 2) -> str:
    """`owner/name` (GitHub, exactly 2 segments) or `group/…/name` (GitLab), or BadPayload."""
    if not isinstance(value, str) or len(value) > 255:
        raise BadPayload(f"{field} is not a repository name")
    parts = value.split("/")
    ok = 2 <= len(parts) <= max_segments and all(
        _SEGMENT.fullmatch(p) and ".." not in p and not p.endswith((".", ".git")) for p in parts
    )
    if not ok:
        raise BadPayload(f"{field} is not a valid owner/name repository path")
    return value


def login(value: Any, field: str) -> str:
    """A user login / username, or BadPayload."""
    if not isinstance(value, str) or not _LOGIN.fullmatch(value):
        raise BadPayload(f"{field} is not a valid user name")
    return value


def _branch_ok(name: str) -> bool:
    return (
        bool(_BRANCH.fullmatch(name))
        and ".." not in name
        and "//" not in name
        and not name.startswith(("-", "/", "."))
        and not name.endswith((".lock", "/", "."))
    )


def branch_ref(value: Any, field: str) -> str:
    """A `refs/heads/<branch>` ref; Ignored for tags and other refs, BadPayload if malformed."""
    if not isinstance(value, str):
        raise BadPayload(f"{field} is missing")
    if value.startswith("refs/tags/"):
        raise Ignored("tag push")
    if not value.startswith("refs/heads/"):
        raise Ignored(f"push to {field} outside refs/heads/")
    if not _branch_ok(value.removeprefix("refs/heads/")):
        # Protected (deployable) branches have plain names; anything else is not ours.
        raise Ignored(f"push to a branch name the bot does not accept ({field})")
    return value


def branch(value: Any, field: str) -> str:
    """A branch name (the part after refs/heads/), or BadPayload."""
    if not isinstance(value, str) or not _branch_ok(value):
        raise BadPayload(f"{field} is not a valid branch name")
    return value


def command(body: Any) -> str | None:
    """The `/gitops-bot …` command line a comment starts with, or None.

    Only the first line counts, and only when it starts with the prefix followed by a space
    or the end of the line ("/gitops-botx" is not a command).
    """
    if not isinstance(body, str):
        return None
    first = body.lstrip().split("\n", 1)[0].strip()
    if first == COMMAND_PREFIX or first.startswith(COMMAND_PREFIX + " "):
        return " ".join(first.split())[:200]
    return None


def command_kind(cmd: str) -> EventKind:
    """RECHECK or COMMAND (override, break-glass) for a command line; Ignored otherwise."""

    def starts(word: str) -> bool:
        return cmd == word or cmd.startswith(word + " ")

    if starts(RECHECK_COMMAND):
        return EventKind.RECHECK
    if any(starts(word) for word in GOVERNANCE_COMMANDS):
        return EventKind.COMMAND
    raise Ignored(f"unknown command {cmd!r}")
