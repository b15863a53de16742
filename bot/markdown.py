"""The one escaping path for text the bot writes to a forge, and fitting a comment's size.

Comment bodies are Markdown: text that is not the bot's own goes through `text`, `code`,
`fence`, `html` or `link`, so it can't open HTML, links, mentions or close a block early.
Plain-text fields (commit status and deployment descriptions, check-run and annotation
titles and messages) go through `plain`, which the forge adapters apply to every such field
(docs/security.md#case-106).
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from bot.redact import redact

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# "@name" notifies people on both forges; a zero-width space after "@" keeps the text but
# not the ping.
_MENTION = re.compile(r"(?<![\w@])@(?=[\w-])")
_BACKTICKS = re.compile(r"`+")
_FENCE_START = re.compile(r"^ {0,3}(`{3,})", re.MULTILINE)
# GitHub and GitLab turn bare "https://…" and "www.…" into links; a zero-width space in
# the scheme or after "www" keeps the text readable but not clickable.
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|www)(?=(:/|\.))")
# C0/C1 controls (but tab and newline) and the bidirectional overrides and isolates that
# can make text read differently from what it is.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
ZWSP = "\u200b"


def text(value: str, *, limit: int | None = None) -> str:
    """Free text (messages, reasons, notes): redacted, HTML and Markdown escaped, one line.

    Newlines become `<br>` so a message stays inside its list item or table cell.
    """
    value = redact(value)
    if limit is not None and len(value) > limit:
        value = value[:limit].rstrip() + "…"
    value = _html.escape(_CONTROL.sub("", value), quote=False)
    value = _MD_SPECIAL.sub(r"\\\1", value)
    value = _MENTION.sub("@&#8203;", value)
    value = _AUTOLINK.sub(r"\1&#8203;", value)
    return "<br>".join(line.strip() for line in value.strip().splitlines())


def plain(value: str, *, multiline: bool = False) -> str:
    """Text for a plain-text forge field: redacted, control and bidirectional-override
    characters removed, mentions neutralised; one line unless `multiline`. The adapter
    cuts it to the field's limit."""
    value = _CONTROL.sub("", redact(value))
    value = (
        "\n".join(" ".join(line.split()) for line in value.strip().splitlines())
        if multiline
        else " ".join(value.split())
    )
    return _MENTION.sub("@" + ZWSP, value)


def code(value: str, *, cell: bool = False) -> str:
    """An inline code span (names, paths, rules); `cell` escapes `|` for table cells."""
    value = " ".join(_CONTROL.sub("", redact(value)).split())
    if not value:
        return ""
    longest = max((len(run) for run in _BACKTICKS.findall(value)), default=0)
    ticks = "`" * (longest + 1)
    if value.startswith("`") or value.endswith("`"):
        value = f" {value} "
    if cell:
        value = value.replace("|", "\\|")
    return f"{ticks}{value}{ticks}"


def html(value: str) -> str:
    """Text placed inside an HTML element such as `<summary>`: redacted, escaped, one line."""
    return _html.escape(" ".join(redact(value).split()), quote=True)


def fence(content: str, lang: str = "") -> str:
    """A fenced code block that content can't close early: the fence is longer than any
    backtick fence inside it. Content is redacted; ends with a newline."""
    content = _CONTROL.sub("", redact(content)).rstrip("\n")
    longest = max((len(run) for run in _FENCE_START.findall(content)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{content}\n{ticks}\n"


def link(label: str, url: str) -> str:
    """A Markdown link whose URL can't end the link early (spaces, parentheses, brackets)."""
    safe = quote(redact(url), safe=":/?#@!$&'*+,;=%~-._")
    return f"[{text(label)}]({safe})"


@dataclass
class Part:
    """Fixed text around items that may be left out to fit; `more(n)` says n were."""

    head: str
    items: Sequence[tuple[tuple[int, ...], str]] = ()
    tail: str = ""
    more: Callable[[int], str] = lambda n: ""


def assemble(parts: list[Part], chosen: set[tuple[int, int]] | None) -> tuple[str, int]:
    """Join parts with the chosen items (all when None); returns text and items left out."""
    out: list[str] = []
    omitted = 0
    for i, p in enumerate(parts):
        out.append(p.head)
        kept = [item for j, (_, item) in enumerate(p.items) if chosen is None or (i, j) in chosen]
        out += kept
        if len(kept) < len(p.items):
            out.append(p.more(len(p.items) - len(kept)))
        out.append(p.tail)
        omitted += len(p.items) - len(kept)
    return "".join(out), omitted


def fit(parts: list[Part], max_chars: int, note: Callable[[int], str]) -> str | None:
    """Keep all fixed text and as many items as fit, best-ranked first; None if the fixed
    text alone is too long. `note(n)` goes after the first part. The lengths of `more` and
    `note` lines are reserved for the worst case, so the result never exceeds max_chars."""
    total = sum(len(p.items) for p in parts)
    reserve = {i: len(p.more(len(p.items))) for i, p in enumerate(parts) if p.items}
    budget = (
        max_chars
        - sum(len(p.head) + len(p.tail) for p in parts)
        - len(note(total))
        - sum(reserve.values())
    )
    if budget < 0:
        return None
    order = sorted((rank, i, j) for i, p in enumerate(parts) for j, (rank, _) in enumerate(p.items))
    chosen: set[tuple[int, int]] = set()
    for _ in range(2):
        for _, i, j in order:
            size = len(parts[i].items[j][1])
            if (i, j) not in chosen and size <= budget:
                chosen.add((i, j))
                budget -= size
        # A part with nothing left out needs no "more" line: spend its reserve on others.
        for i in [i for i in reserve if all((i, j) in chosen for j in range(len(parts[i].items)))]:
            budget += reserve.pop(i)
    body, omitted = assemble(parts, chosen)
    cut = len(parts[0].head) + len(parts[0].tail)
    return body[:cut] + note(omitted) + body[cut:]
