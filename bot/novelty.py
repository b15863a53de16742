"""PURE: which findings a change introduces, and which were already there at the base.

A head finding is *new* when the base render of the same target has no finding with the same
identity: object, check, rule and message key. The message key is the message with what moves
without the problem changing taken out — line numbers, `file:line` locations, document and
list positions — so an old problem stays old when a line is added above it or an object moves
in its file. Objects renamed by the change (pairs from `bot.pairing`) are matched under their
base name. Identities are counted, not just compared: a second copy of an old problem is new.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from bot.model import Finding, ObjKey

BLOCK_NEW, BLOCK_ALL = "new", "all"
# Checks whose findings are about the change itself: always new (deletions, dangerous
# changes, approvals, change policies).
ALWAYS_NEW = frozenset({"dangerous"})

_LOCATION = re.compile(r"(?<=[\w.\-/])(:\d+)+\b")  # file.yaml:12, file.yaml:12:3
_LINE = re.compile(r"\b(line|lines|document|doc|item|items|index|position)\s+\d+", re.IGNORECASE)
_INDEX = re.compile(r"\[\d+\]")  # containers[1] -> containers[]
_SPACES = re.compile(r"\s+")

Identity = tuple[str, str, str, str]


def message_key(message: str, renames: Mapping[str, str] | None = None) -> str:
    """The part of a message that names the problem, not where it sits.

    `renames` maps names in the head to their base names (renamed, hash-suffixed objects).
    """
    text = message
    for new, old in (renames or {}).items():
        if new and new != old:
            text = re.sub(rf"(?<![\w.-]){re.escape(new)}(?![\w.-])", old, text)
    text = _LOCATION.sub("", text)
    text = _LINE.sub(lambda m: m.group(1).lower() + " #", text)
    text = _INDEX.sub("[]", text)
    return _SPACES.sub(" ", text).strip()


def identity(finding: Finding, renames: Mapping[ObjKey, ObjKey] | None = None) -> Identity:
    """(object, check, rule, message key) of a finding; a renamed object counts under its
    base key."""
    renames = renames or {}
    obj = finding.object
    names: dict[str, str] = {}
    if obj is not None and obj in renames:
        names = {obj.name: renames[obj].name}
        obj = renames[obj]
    return (
        str(obj) if obj else "",
        finding.check,
        finding.rule or "",
        message_key(finding.message, names),
    )


def mark_new(
    head: Sequence[Finding], base: Iterable[Finding], renames: Mapping[ObjKey, ObjKey] | None = None
) -> list[Finding]:
    """`head` with `new` set: False for as many findings of each identity as the base has.

    Findings of ALWAYS_NEW checks are always new. Order is kept.
    """
    left = Counter(identity(f) for f in base)
    out: list[Finding] = []
    for finding in head:
        if finding.check in ALWAYS_NEW:
            out.append(dataclasses.replace(finding, new=True))
            continue
        key = identity(finding, renames)
        if left[key] > 0:
            left[key] -= 1
            out.append(dataclasses.replace(finding, new=False))
        else:
            out.append(dataclasses.replace(finding, new=True))
    return out


def deciding(findings: Iterable[Finding], block: str = BLOCK_NEW) -> list[Finding]:
    """The findings that decide a state: the new ones, or every one with `block: all`."""
    return [f for f in findings if block == BLOCK_ALL or f.new]
