"""PURE: the parameter helpers of ApplicationSet generators: Go's path.Match, git's
pathspec, flattening for fasttemplate, mergo's merges and label selectors."""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from bot.repo.gofuncs import go_str


def go_path_match(pattern: str, name: str) -> bool:
    """Go's `path.Match`: `*` and `?` never cross `/`, `[...]` classes (`^` negates)."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                return False
            body = pattern[i + 1 : j].replace("\\", "\\\\")
            out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.fullmatch(out, name) is not None


def pathspec_match(pattern: str, path: str) -> bool:
    """`git ls-files -- PATTERN` as Argo CD runs it: a glob whose `*` crosses `/`, or a
    leading directory."""
    pattern = pattern.removeprefix("./")
    return (
        fnmatch.fnmatchcase(path, pattern)
        or path == pattern
        or path.startswith(pattern.rstrip("/") + "/")
    )


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix: go_str(value)}


def _zero(value: Any) -> bool:
    return value is None or value in ("", 0, False) or value == {} or value == []


def fill(dest: Any, src: Any) -> Any:
    """mergo.Merge without override: `dest` keeps what it sets, `src` fills the rest."""
    if not isinstance(dest, Mapping) or not isinstance(src, Mapping):
        return copy.deepcopy(src) if _zero(dest) else dest
    out = dict(dest)
    for key, value in src.items():
        out[key] = fill(out.get(key), value)
    return out


def merge_override(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """mergo.Merge with override: nested maps merged, other values of `over` win."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_override(out[key], value)
        elif not _zero(value):
            out[key] = value
    return out


def selected(params: Mapping[str, Any], selector: Mapping[str, Any] | None) -> bool:
    if not selector:
        return True
    flat = flatten(params)
    for key, value in (selector.get("matchLabels") or {}).items():
        if flat.get(key) != str(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and flat.get(key) not in values:
            return False
        if op == "NotIn" and flat.get(key) in values:
            return False
        if op == "Exists" and key not in flat:
            return False
        if op == "DoesNotExist" and key in flat:
            return False
    return True
