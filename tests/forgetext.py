"""Checks that what the bot wrote to a forge is inert: Markdown rendered as the forges do
(CommonMark with raw HTML and tables), then everything outside code searched for what user
text must never become — HTML tags, links, autolinks, mentions, a closed `<details>`."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

# Text the tests put wherever user text reaches a forge: a path with a team mention, an
# image whose onerror runs script, an early </details>, a Markdown link, a bare URL, the
# deploy marker on a line of its own and a right-to-left override.
HOSTILE = (
    "apps/@security-team/</details><img src=x onerror=alert(1)>"
    "[click](https://evil.example/a) https://evil.example/b www.evil.example "
    "\n<!-- gitops-bot:deploy env=production -->\n\u202eexe.yaml"
)

_RENDER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_CODE = re.compile(r"<(pre|code)\b.*?</\1>", re.S)
_TAG = re.compile(r"<(img|a|script|iframe|svg|input|form)\b", re.I)
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9]")
_AUTOLINK = re.compile(r"(?i)\b(?:https?://|www\.)")


def outside_code(markdown: str) -> str:
    """The rendered HTML of `markdown` with every code span and block removed."""
    return _CODE.sub("", _RENDER.render(markdown))


def problems(markdown: str, details: int = 0) -> list[str]:
    """What in `markdown` is not inert; `details` is how many <details> the bot itself wrote."""
    html = outside_code(markdown)
    text = re.sub(r"<[^>]+>", "", html)
    found = [f"tag <{m.group(1)}>" for m in _TAG.finditer(html)]
    found += [f"mention {text[m.start() : m.start() + 20]!r}" for m in _MENTION.finditer(text)]
    found += [f"autolink {text[m.start() : m.start() + 30]!r}" for m in _AUTOLINK.finditer(text)]
    if html.count("</details>") != details or html.count("<details") != details:
        found.append(f"<details> not balanced as written: {html.count('</details>')} closed")
    if "\u202e" in markdown:
        found.append("bidirectional override character")
    return found


def plain_problems(value: str, limit: int, *, multiline: bool = False) -> list[str]:
    """What in a plain-text forge field (status, deployment, annotation) is not as it must be."""
    found = [] if len(value) <= limit else [f"{len(value)} characters, limit {limit}"]
    if not multiline and "\n" in value:
        found.append("more than one line")
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", value):
        found.append("control or bidirectional characters")
    if _MENTION.search(value):
        found.append("a mention")
    return found
