"""A small Rego lexer: packages, rule heads, forbidden built-ins and reference rewriting."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.policy.capabilities import FORBIDDEN_BUILTINS

KEYWORDS = frozenset(
    {
        "package",
        "import",
        "default",
        "else",
        "not",
        "some",
        "every",
        "with",
        "as",
        "if",
        "contains",
        "in",
        "true",
        "false",
        "null",
    }
)

_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<newline>\n)
  | (?P<ws>[ \t\r\f]+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<punct>:=|==|!=|<=|>=|.)
""",
    re.VERBOSE | re.DOTALL,
)
_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True)
class Token:
    """One lexical token with its 1-based line and bracket depth before it."""

    kind: str
    text: str
    line: int
    depth: int


def tokens(source: str) -> list[Token]:
    """Split Rego source into tokens (strings and comments stay whole)."""
    out: list[Token] = []
    line, depth = 1, 0
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "punct"
        text = match.group()
        out.append(Token(kind, text, line, depth))
        if kind == "punct":
            if text in _OPEN:
                depth += 1
            elif text in _CLOSE:
                depth = max(0, depth - 1)
        line += text.count("\n")
    return out


def _significant(toks: list[Token]) -> list[Token]:
    return [t for t in toks if t.kind not in ("ws", "comment")]


def package_name(source: str) -> str | None:
    """The dotted package path (`main`, `lib.kubernetes`), or None without a package line."""
    toks = _significant(tokens(source))
    for i, tok in enumerate(toks):
        if tok.kind == "ident" and tok.text == "package" and tok.depth == 0:
            parts: list[str] = []
            for nxt in toks[i + 1 :]:
                if nxt.kind == "ident":
                    parts.append(nxt.text)
                elif nxt.kind == "string":
                    parts.append(nxt.text[1:-1])
                elif not (nxt.kind == "punct" and nxt.text in ".[]"):
                    break
            return ".".join(parts) or None
    return None


def rule_heads(source: str) -> dict[str, str]:
    """Names of the rules a module defines: name -> "rule" or "function".

    A rule head is an identifier at bracket depth 0 that starts a line (after `default`
    when present); keywords such as `else`, `import` and `package` are not rules.
    """
    toks = _significant(tokens(source))
    heads: dict[str, str] = {}
    at_line_start = True
    for i, tok in enumerate(toks):
        if tok.kind == "newline":
            at_line_start = True
            continue
        starts = at_line_start and tok.depth == 0
        at_line_start = False
        if not starts or tok.kind != "ident":
            continue
        name_tok = tok
        if tok.text == "default" and i + 1 < len(toks):
            name_tok = toks[i + 1]
        if name_tok.kind != "ident" or name_tok.text in KEYWORDS:
            continue
        nxt = next((t for t in toks[toks.index(name_tok, i) + 1 :] if t.kind != "newline"), None)
        kind = "function" if nxt is not None and nxt.text == "(" else "rule"
        heads.setdefault(name_tok.text, kind)
    return heads


def _segment(toks: list[Token], j: int) -> tuple[str, int] | None:
    """The next part of a reference at `j` (`.name`, `["name"]`, `[`name`]`) and its end."""
    if j + 1 < len(toks) and toks[j].text == "." and toks[j + 1].kind == "ident":
        return toks[j + 1].text, j + 2
    if (
        j + 2 < len(toks)
        and toks[j].text == "["
        and toks[j + 2].text == "]"
        and toks[j + 1].kind in ("string", "raw")
    ):
        text = toks[j + 1].text
        try:
            name = json.loads(text) if toks[j + 1].kind == "string" else text[1:-1]
        except ValueError:
            name = text[1:-1]
        return str(name), j + 3
    return None


def _refs(toks: list[Token]) -> Iterator[tuple[str, int]]:
    """References (`http.send`, `opa["runtime"]`, `data.main.deny`) that do not follow a dot,
    written in dotted form."""
    i = 0
    while i < len(toks):
        tok = toks[i]
        prev = toks[i - 1] if i else None
        if tok.kind == "ident" and not (prev is not None and prev.text == "."):
            parts, j = [tok.text], i + 1
            while (segment := _segment(toks, j)) is not None:
                parts.append(segment[0])
                j = segment[1]
            yield ".".join(parts), tok.line
            i = j
            continue
        i += 1


def forbidden_calls(source: str) -> list[tuple[str, int]]:
    """(built-in, line) for every use of a built-in the bot does not allow."""
    toks = [t for t in tokens(source) if t.kind not in ("ws", "comment", "newline")]
    return [
        (ref, line)
        for ref, line in _refs(toks)
        if any(ref == b or ref.startswith(b + ".") for b in FORBIDDEN_BUILTINS)
    ]


def rewrite(source: str, *, input_ref: str | None = None, data_prefix: str | None = None) -> str:
    """Rewrite root references, keeping every line where it was.

    `input_ref` replaces the `input` document (the embedded engine routes `input` through a
    rule so that `with input as` becomes `with data... as`, which regopy compiles);
    `data_prefix` moves the module and every `data` reference under a prefix (the OPA
    server path keeps each policy revision in its own subtree).
    """
    toks = tokens(source)
    out: list[str] = []
    prev_sig: Token | None = None
    after_package = False
    for tok in toks:
        text = tok.text
        if tok.kind == "ident" and not (prev_sig is not None and prev_sig.text == "."):
            if after_package and data_prefix:
                text = f"{data_prefix}.{text}"
            elif text == "input" and input_ref:
                text = input_ref
            elif text == "data" and data_prefix:
                text = f"data.{data_prefix}"
        if tok.kind not in ("ws", "comment", "newline"):
            after_package = tok.kind == "ident" and tok.text == "package"
            prev_sig = tok
        out.append(text)
    return "".join(out)
