"""PURE: values a renderer makes up anew on every render (Helm's `randAlphaNum` passwords,
`genCA` certificates, the checksum annotations that hash them), found by rendering the same
inputs twice, so that a diff does not show them as a change on every pull request.

Only the diff and the dangerous-change check see the steadied copies; what is validated,
policy-checked and deployed is the render itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.model import Manifest

MARK = "(differs on every render)"


def _marks(a: Any, b: Any) -> Any:
    """A template of `a`: leaves that differ in `b` become MARK, the rest stay None."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = {k: _marks(a[k], b[k]) for k in a if k in b}
        return {k: v for k, v in out.items() if v is not None} or None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        items = [_marks(x, y) for x, y in zip(a, b, strict=True)]
        return items if any(i is not None for i in items) else None
    return None if a == b else MARK


def _apply(body: Any, marks: Any) -> Any:
    """`body` with the leaves `marks` flags replaced by MARK (where `body` has them)."""
    if marks == MARK:
        return MARK
    if isinstance(marks, Mapping) and isinstance(body, Mapping):
        return {k: _apply(v, marks[k]) if k in marks else v for k, v in body.items()}
    if isinstance(marks, list) and isinstance(body, list):
        return [
            _apply(v, marks[i]) if i < len(marks) and marks[i] is not None else v
            for i, v in enumerate(body)
        ]
    return body


def _all_marks(first: Sequence[Manifest], second: Sequence[Manifest]) -> dict[Any, Any]:
    again = {m.key: m for m in second}
    marks = {m.key: _marks(m.body, again[m.key].body) for m in first if m.key in again}
    return {k: v for k, v in marks.items() if v is not None}


def _steadied(items: Sequence[Manifest], marks: Mapping[Any, Any]) -> list[Manifest]:
    return [
        Manifest(_apply(m.body, marks[m.key]), m.file, m.line) if m.key in marks else m
        for m in items
    ]


def steady(
    before: Sequence[Manifest],
    after: Sequence[Manifest],
    after_again: Sequence[Manifest],
    before_again: Sequence[Manifest] = (),
) -> tuple[list[Manifest], list[Manifest]]:
    """Copies of `before` and `after` where each value that differs between that side's
    render and a second render of the same inputs (`before_again`, `after_again`) is MARK:
    random on both sides reads as unchanged, random on one side only as "was random, now
    this". Objects named differently in the second render are left alone (bot.pairing
    pairs random names)."""
    return (
        _steadied(before, _all_marks(before, before_again)),
        _steadied(after, _all_marks(after, after_again)),
    )
