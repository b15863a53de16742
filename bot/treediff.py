"""The diff of a large object by changed subtree, in time linear in the object's size.

A line diff (difflib) of two large YAML documents — a CRD of 20,000 lines whose
descriptions changed in a hundred places — is quadratic in practice. Here both sides are
walked together: equal subtrees are skipped whole (one `==` in C), mappings are compared
key by key, lists index by index (aligned on item digests when their lengths differ), and
each change becomes one hunk headed by its path:

    @@ spec.versions[0].schema.openAPIV3Schema.properties.spec.required @@
    -required:
    -- name
    +required:
    +- name
    +- image

Pure: plain data in, text out; values must already be normalised and masked.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

LARGE_BYTES = 48 * 1024  # JSON size past which an object is diffed by subtree
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_MISSING = object()

Dump = Callable[[Any], str]  # a value -> its YAML text (block style, sorted keys)
# (path, the mapping key shown or None for list items, before, after); a missing side is
# _MISSING
Change = tuple[str, str | None, Any, Any]


def is_large(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """True when either side is big enough for a subtree diff."""
    return any(len(json.dumps(body, default=str)) > LARGE_BYTES for body in (before, after))


def _segment(key: str) -> str:
    return f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key, ensure_ascii=False)}]"


def _digest(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _container(a: Any, b: Any) -> bool:
    return (isinstance(a, dict) and isinstance(b, dict)) or (
        isinstance(a, list) and isinstance(b, list)
    )


def changes(a: Any, b: Any, path: str = "") -> list[Change]:
    """The maximal changed subtrees of `a` -> `b`, in document order."""
    out: list[Change] = []
    _walk(a, b, path, out)
    return out


def _walk(a: Any, b: Any, path: str, out: list[Change]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys(), key=str):
            va, vb = a.get(key, _MISSING), b.get(key, _MISSING)
            if va is _MISSING or vb is _MISSING or not _container(va, vb):
                if va is _MISSING or vb is _MISSING or va != vb:
                    out.append((path + _segment(str(key)), str(key), va, vb))
            elif va != vb:
                _walk(va, vb, path + _segment(str(key)), out)
    elif isinstance(a, list) and isinstance(b, list):
        _walk_list(a, b, path, out)
    elif a != b:
        out.append((path, None, [a], [b]))


def _walk_list(a: list[Any], b: list[Any], path: str, out: list[Change]) -> None:
    opcodes: Sequence[tuple[str, int, int, int, int]]
    if len(a) == len(b):
        opcodes = [("replace", 0, len(a), 0, len(b))]
    else:
        matcher = difflib.SequenceMatcher(
            None, [_digest(x) for x in a], [_digest(x) for x in b], autojunk=False
        )
        opcodes = matcher.get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        if i2 - i1 == j2 - j1:  # same length: item by item
            for offset in range(i2 - i1):
                x, y = a[i1 + offset], b[j1 + offset]
                if x != y:
                    where = f"{path}[{i1 + offset}]"
                    if _container(x, y):
                        _walk(x, y, where, out)
                    else:
                        out.append((where, None, [x], [y]))
        else:
            where = f"{path}[{i1}:{i2}]"
            out.append((where, None, a[i1:i2] or _MISSING, b[j1:j2] or _MISSING))


def _lines(value: Any, key: str | None, dump: Dump) -> list[str]:
    if value is _MISSING:
        return []
    shown = {key: value} if key is not None else value
    return dump(shown).splitlines()


def hunks(before: Mapping[str, Any], after: Mapping[str, Any], dump: Dump) -> list[str]:
    """Diff lines (without file headers): one `@@ path @@` hunk per changed subtree; a
    mapping member is shown as `key: value`, list items as `- item`."""
    lines: list[str] = []
    for path, key, va, vb in changes(dict(before), dict(after)):
        lines.append(f"@@ {path.lstrip('.') or '.'} @@")
        lines += ["-" + line for line in _lines(va, key, dump)]
        lines += ["+" + line for line in _lines(vb, key, dump)]
    return lines
