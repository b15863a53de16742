"""PURE: evaluation of envsubst templates (bot.render.envsubst) with fluxcd/pkg/envsubst's
functions, including its glob matcher for `#`/`%` (where `*` and `?` also match `/`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.render.envsubst import DEFAULT_OPS, Node, SubstitutionError, parse

Lookup = Callable[[str], tuple[str, bool]]


def _go_atoi(text: str) -> int | None:
    try:
        return int(text, 10) if text.strip() == text and text else None
    except ValueError:
        return None


def _substr(s: str, *args: str) -> str:
    pos = _go_atoi(args[0]) if args else None
    if pos is None:
        return s
    if pos < 0:
        pos = max(0, len(s) + pos)
    if len(args) == 1:
        return s[pos:] if pos < len(s) else ""
    length = _go_atoi(args[1])
    if length is None:
        return s
    if pos + length >= len(s):
        return s[pos:] if pos < len(s) else ""
    return s[pos : pos + length]


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    inrange, i = False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            i += 1
        elif c == "[":
            inrange = True
        elif c == "]":
            inrange = False
        elif c == "*" and not inrange:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _get_esc(chunk: str) -> tuple[str, str]:
    if not chunk or chunk[0] in "-]":
        raise ValueError("bad pattern")
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise ValueError("bad pattern")
    r, rest = chunk[0], chunk[1:]
    if not rest:
        raise ValueError("bad pattern")
    return r, rest


def _match_chunk(chunk: str, s: str) -> tuple[str, bool]:
    while chunk:
        if not s:
            return s, False
        if chunk[0] == "[":
            r, s, chunk = s[0], s[1:], chunk[1:]
            negated = chunk.startswith("^")
            chunk = chunk[1:] if negated else chunk
            match, n = False, 0
            while True:
                if chunk.startswith("]") and n > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == "-":
                    hi, chunk = _get_esc(chunk[1:])
                match = match or lo <= r <= hi
                n += 1
            if match == negated:
                return s, False
        elif chunk[0] == "?":
            s, chunk = s[1:], chunk[1:]
        else:
            if chunk[0] == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise ValueError("bad pattern")
            if chunk[0] != s[0]:
                return s, False
            s, chunk = s[1:], chunk[1:]
    return s, True


def path_match(pattern: str, name: str) -> bool:
    """fluxcd/pkg/envsubst/path.Match (ValueError for a malformed pattern)."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return True
        rest, ok = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if star:
            for i in range(len(name)):
                rest, ok = _match_chunk(chunk, name[i + 1 :])
                if ok:
                    if not pattern and rest:
                        continue
                    name = rest
                    break
            else:
                return False
            continue
        return False
    return not name


def _trim_shortest(s: str, pattern: str) -> str:
    shortest = ""
    try:
        for i in range(len(s)):
            if path_match(pattern, s[: len(s) - i]):
                shortest = s[: len(s) - i]
    except ValueError:
        return s
    return s.removeprefix(shortest) if shortest else s


def _trim_longest(s: str, pattern: str) -> str:
    try:
        for i in range(len(s)):
            if path_match(pattern, s[: len(s) - i]):
                return s.removeprefix(s[: len(s) - i])
    except ValueError:
        return s
    return s


def _suffix(trim: Callable[[str, str], str]) -> Callable[..., str]:
    return lambda s, *a: trim(s[::-1], a[0][::-1])[::-1] if a else s


def _default(s: str, *args: str) -> str:
    return "".join(args) if not s and args else s


FUNCS: dict[str, Callable[..., str]] = {
    ",": lambda s, *a: s[:1].lower() + s[1:],
    ",,": lambda s, *a: s.lower(),
    "^": lambda s, *a: s[:1].upper() + s[1:],
    "^^": lambda s, *a: s.upper(),
    "##": lambda s, *a: _trim_longest(s, a[0]) if a else s,
    "%": _suffix(_trim_shortest),
    "%%": _suffix(_trim_longest),
    ":": _substr,
    "/#": lambda s, *a: s.replace(a[0], a[1], 1) if len(a) == 2 and s.startswith(a[0]) else s,
    "/%": lambda s, *a: s.removesuffix(a[0]) + a[1] if len(a) == 2 and s.endswith(a[0]) else s,
    "/": lambda s, *a: s.replace(a[0], a[1] if len(a) > 1 else "", 1) if a else s,
    "//": lambda s, *a: s.replace(a[0], a[1] if len(a) > 1 else "") if a else s,
}


def _func(name: str, nargs: int) -> Callable[..., str]:
    if name == "#":
        return (
            (lambda s, *a: str(len(s.encode())))
            if nargs == 0
            else (lambda s, *a: _trim_shortest(s, a[0]))
        )
    return FUNCS.get(name, _default)


def _evaluate(nodes: list[Node], lookup: Lookup, keep: bool) -> str:
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
            continue
        _, param, name, args = node
        values = [_evaluate([a], lookup, keep) for a in args]
        value, exists = lookup(param)
        if not exists and name == "" and keep:
            out.append("${" + param + "}")
            continue
        if not exists and name not in DEFAULT_OPS and not keep:
            raise SubstitutionError(f'variable not set (strict mode): "{param}"')
        out.append(_func(name, len(values))(value, *values))
    return "".join(out)


def substitute(
    text: str, variables: Mapping[str, str], *, strict: bool = False, keep_unknown: bool = False
) -> str:
    """`text` with `${...}` evaluated against `variables`. Unset variables are empty unless
    `strict` (an error) or `keep_unknown` (a bare `${var}` stays as written, for variables
    that would come from a Secret the bot never reads)."""

    def lookup(name: str) -> tuple[str, bool]:
        if name in variables:
            return variables[name], True
        return "", not (strict or keep_unknown)

    return _evaluate(parse(text), lookup, keep_unknown and not strict)
