"""Rego v0 rule syntax as Rego v1, for OPA servers (OPA 1.x parses Rego v1 only by default).

Many conftest libraries are still written in Rego v0 (`deny[msg] { ... }`, `allow { ... }`),
which the embedded engine (regopy) accepts and OPA 1.x refuses with "`if` keyword is required
before rule body" / "`contains` keyword is required for partial set rules". This adds the two
keywords the way `opa fmt --v0-v1` does, token by token and keeping every line where it was
(so OPA's error lines still point into the repository's file):

- a rule body `{` at the top level after a rule head gets `if` (`allow if {`,
  `f(x) = y if {`, `} else = v if {`, `} else if {`);
- a partial set head `name[term]` followed by a body or by the end of the line becomes
  `name contains term`.

Modules already in Rego v1 come back unchanged. Other v0-only constructs (deprecated
built-ins, keywords used as names) are left alone: OPA reports them as errors.
"""

from __future__ import annotations

from bot.policy.source import KEYWORDS, Token, tokens

_LAYOUT = ("ws", "comment")
_TERM_KINDS = ("ident", "string", "raw", "number")
_TERM_END = frozenset({"]", ")"})
_VALUES = frozenset({"true", "false", "null"})


def _previous(toks: list[Token], i: int, *, skip_newlines: bool) -> Token | None:
    for tok in reversed(toks[:i]):
        if tok.kind in _LAYOUT or (skip_newlines and tok.kind == "newline"):
            continue
        return tok
    return None


def _next(toks: list[Token], i: int) -> Token | None:
    for tok in toks[i + 1 :]:
        if tok.kind not in _LAYOUT:
            return tok
    return None


def _body_needs_if(toks: list[Token], i: int) -> bool:
    """Whether the top-level `{` at `i` opens a rule body written without `if`."""
    prev = _previous(toks, i, skip_newlines=True)
    if prev is None:
        return False
    if prev.kind == "ident":
        return prev.text == "else" or prev.text in _VALUES or prev.text not in KEYWORDS
    return prev.kind in _TERM_KINDS or (prev.kind == "punct" and prev.text in _TERM_END)


def _closing(toks: list[Token], i: int) -> int | None:
    """Index of the bracket closing the opening bracket at `i`."""
    depth = toks[i].depth
    for j in range(i + 1, len(toks)):
        if toks[j].kind == "punct" and toks[j].text in ")]}" and toks[j].depth == depth + 1:
            return j
    return None


def _partial_set_brackets(toks: list[Token], i: int) -> tuple[int, int] | None:
    """(`[`, `]`) indexes when the rule head starting at `i` is a v0 partial set head."""
    name = toks[i]
    if name.kind != "ident" or name.depth != 0 or name.text in KEYWORDS | {"default"}:
        return None
    before = _previous(toks, i, skip_newlines=False)
    if before is not None and before.kind != "newline":
        return None  # not the start of a statement
    j = i + 1
    if j >= len(toks) or toks[j].text != "[":
        return None
    end = _closing(toks, j)
    if end is None:
        return None
    after = _next(toks, end)
    if after is None or after.kind == "newline" or after.text == "{":
        return j, end
    return None


def to_v1(source: str) -> str:
    """The module with v0 rule heads and bodies rewritten to Rego v1 (lines unchanged)."""
    toks = tokens(source)
    replace: dict[int, str] = {}
    for i, tok in enumerate(toks):
        if tok.kind == "punct" and tok.text == "{" and tok.depth == 0 and _body_needs_if(toks, i):
            replace[i] = " if {" if i and toks[i - 1].kind != "ws" else "if {"
        brackets = _partial_set_brackets(toks, i)
        if brackets:
            replace[brackets[0]] = " contains "
            replace[brackets[1]] = ""
    if not replace:
        return source
    return "".join(replace.get(i, tok.text) for i, tok in enumerate(toks))
