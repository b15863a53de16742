"""PURE: Go's template built-ins and the sprig functions ApplicationSet templates use most
(plus Argo CD's `normalize`), with Go's printing and truth rules."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml


def go_str(value: Any) -> str:
    """A value printed the way Go's `fmt` `%v` prints decoded JSON/YAML data."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_str(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    return str(value)


def truthy(value: Any) -> bool:
    """Go template truth: false, 0, nil, empty strings and collections are false."""
    if value is None or repr(value) == "<no value>":
        return False
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value) > 0
    return bool(value)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, (list, tuple)) and isinstance(key, int):
            if not 0 <= key < len(value):
                raise IndexError(f"index out of range: {key}")
            value = value[key]
        else:
            raise TypeError(f"can't index item of type {type(value).__name__}")
    return value


def _printf(fmt: str, *args: Any) -> str:
    out, i = [], 0
    for m in re.finditer(r"%([-+ 0#]*\d*(?:\.\d+)?)([vsdqtfx%])", fmt):
        out.append(fmt[i : m.start()])
        i = m.end()
        flags, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        arg = args[0] if args else None
        args = args[1:]
        if verb == "q":
            out.append(json.dumps(go_str(arg)))
        elif verb in "df" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
            out.append(("%" + flags + verb) % arg)
        else:
            out.append(("%" + flags + "s") % go_str(arg))
    out.append(fmt[i:])
    return "".join(out)


def _default(default: Any, *given: Any) -> Any:
    return given[0] if given and truthy(given[0]) else default


def normalize(name: str) -> str:
    """Argo CD's `normalize`: a DNS-1123-ish name (lowercase, `[-a-z0-9.]`, trimmed)."""
    name = re.sub(r"[^-a-z0-9.]", "-", str(name).lower())[:253]
    return name.strip("-.")


def _to_yaml(value: Any) -> str:
    return (
        yaml.safe_dump(value, default_flow_style=False, sort_keys=True).rstrip("\n")
        if value is not None
        else "null"
    )


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(a: Any, *bs: Any) -> bool:
        return any(op(a, b) for b in bs) if op is _eq else all(op(a, b) for b in bs)

    return compare


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _trunc(n: int, s: str) -> str:
    return s[:n] if n >= 0 else s[n:]


def _split_list(sep: str, s: str) -> list[str]:
    return s.split(sep)


FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda v: not truthy(v),
    "len": lambda v: len(v),
    "index": _index,
    "print": lambda *a: "".join(go_str(v) for v in a),
    "printf": _printf,
    "println": lambda *a: " ".join(go_str(v) for v in a) + "\n",
    "eq": _cmp(_eq),
    "ne": _cmp(lambda a, b: a != b),
    "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b),
    "ge": _cmp(lambda a, b: a >= b),
    "default": _default,
    "empty": lambda v: not truthy(v),
    "coalesce": lambda *a: next((v for v in a if truthy(v)), None),
    "ternary": lambda a, b, cond: a if truthy(cond) else b,
    "lower": lambda s: go_str(s).lower(),
    "upper": lambda s: go_str(s).upper(),
    "title": lambda s: go_str(s).title(),
    "trim": lambda s: go_str(s).strip(),
    "trimPrefix": lambda p, s: go_str(s).removeprefix(p),
    "trimSuffix": lambda x, s: go_str(s).removesuffix(x),
    "trimAll": lambda c, s: go_str(s).strip(c),
    "replace": lambda old, new, s: go_str(s).replace(old, new),
    "contains": lambda sub, s: sub in go_str(s),
    "hasPrefix": lambda p, s: go_str(s).startswith(p),
    "hasSuffix": lambda x, s: go_str(s).endswith(x),
    "quote": lambda *a: " ".join(json.dumps(go_str(v)) for v in a if v is not None),
    "squote": lambda *a: " ".join(f"'{go_str(v)}'" for v in a if v is not None),
    "trunc": _trunc,
    "substr": lambda a, b, s: go_str(s)[a:b],
    "toString": go_str,
    "toJson": lambda v: json.dumps(v, separators=(",", ":")),
    "toYaml": _to_yaml,
    "fromYaml": lambda s: yaml.safe_load(s) or {},
    "join": lambda sep, v: sep.join(go_str(x) for x in v),
    "splitList": _split_list,
    "list": lambda *a: list(a),
    "dict": lambda *a: {
        go_str(a[i]): a[i + 1] if i + 1 < len(a) else "" for i in range(0, len(a), 2)
    },
    "hasKey": lambda m, k: k in m,
    "keys": lambda *ms: [k for m in ms for k in m],
    "atoi": lambda s: int(s),
    "int": lambda v: int(float(v)),
    "add": lambda *a: sum(int(v) for v in a),
    "sub": lambda a, b: int(a) - int(b),
    "regexMatch": lambda r, s: re.search(r, go_str(s)) is not None,
    "regexReplaceAll": lambda r, s, repl: re.sub(r, repl.replace("$", "\\"), go_str(s)),
    "b64enc": lambda s: base64.b64encode(go_str(s).encode()).decode(),
    "b64dec": lambda s: base64.b64decode(go_str(s)).decode(),
    "sha256sum": lambda s: hashlib.sha256(go_str(s).encode()).hexdigest(),
    "kebabcase": lambda s: re.sub(r"(?<!^)(?=[A-Z])", "-", go_str(s)).lower(),
    "normalize": normalize,
}
