"""PURE: Flux's variable substitution (`postBuild`), the same parser and functions as
fluxcd/pkg/envsubst (a fork of drone/envsubst), ported so the bot substitutes exactly
what kustomize-controller does.

Only `${...}` is substituted (`$var` stays as written; `$${var}` gives `${var}`). Supported:
`${var}`, `${#var}`, `${var^}`, `${var^^}`, `${var,}`, `${var,,}`, `${var:n}`,
`${var:n:len}`, `${var#pat}`, `${var##pat}`, `${var%pat}`, `${var%%pat}`,
`${var:-default}`, `${var:=default}`, `${var=default}`, `${var/pat/rep}`,
`${var//pat/rep}`, `${var/#pat/rep}`, `${var/%pat/rep}`. Without `strict`, an unset
variable is empty, like the controller's default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EOF = ""
IDENT, LBRACK, RBRACK, EOF_TOKEN, ILLEGAL = "ident", "lbrack", "rbrack", "eof", "illegal"
SCAN_IDENT, SCAN_LBRACK, SCAN_RBRACK, SCAN_ESCAPE = 1, 2, 4, 8
DOLLAR, BACKSLASH = 1, 2
DEFAULT_OPS = frozenset({"-", "+", "=", "?", ":-", ":+", ":=", ":?"})

Accept = Callable[[str, int], bool]
Mapping = Callable[[str], tuple[str, bool]]


class SubstitutionError(Exception):
    """envsubst's own errors: "bad substitution", "missing closing brace", ..."""


def _ident(r: str, i: int) -> bool:
    return r.isalpha() or r.isdigit() or r == "_"


ACCEPT: dict[str, Accept] = {
    "rune": lambda r, i: True,
    "ident": _ident,
    "colon": lambda r, i: r == ":",
    "one_hash": lambda r, i: r == "#" and i == 1,
    "not_closing": lambda r, i: r != "}",
    "hash_func": lambda r, i: r == "#" and i < 3,
    "percent_func": lambda r, i: r == "%" and i < 3,
    "default_func": lambda r, i: (i == 1 and r == ":") or (i == 2 and r in "=-?+"),
    "replace_func": lambda r, i: (i == 1 and r == "/") or (i == 2 and r in "/#%"),
    "one_equal": lambda r, i: i == 1 and r == "=",
    "one_colon": lambda r, i: i == 1 and r == ":",
    "reject_colon_close": lambda r, i: r not in (":", "}"),
    "slash": lambda r, i: r == "/",
    "not_slash": lambda r, i: r != "/",
    "casing_func": lambda r, i: r in (",", "^") and i < 3,
}


class _Scanner:
    def __init__(self, buf: str) -> None:
        self.buf, self.pos, self.start, self.width = buf, 0, 0, 0
        self.mode, self.escape = 0, 0
        self.accept: Accept = ACCEPT["rune"]

    def read(self) -> str:
        if self.pos >= len(self.buf):
            self.width = 0
            return EOF
        self.width = 1
        self.pos += 1
        return self.buf[self.pos - 1]

    def unread(self) -> None:
        self.pos -= self.width

    def skip(self) -> None:  # drop the escape character just read
        self.buf = self.buf[: self.pos - 1] + self.buf[self.pos :]

    def peek(self) -> str:
        r = self.read()
        self.unread()
        return r

    def string(self) -> str:
        return self.buf[self.start : self.pos]

    def scan(self) -> str:
        self.start = self.pos
        r = self.read()
        if r == EOF:
            return EOF_TOKEN
        if self.scan_lbrack(r):
            return LBRACK
        if self.scan_rbrack(r):
            return RBRACK
        if self.scan_ident(r):
            return IDENT
        return ILLEGAL

    def scan_ident(self, r: str) -> bool:
        if not self.mode & SCAN_IDENT:
            return False
        if self.escaped(r):
            self.skip()
        elif not self.accept(r, self.pos - self.start):
            return False
        while True:
            r = self.read()
            if r == EOF:
                self.unread()
                break
            if self.scan_lbrack(r):
                self.unread()
                self.unread()
                break
            if self.escaped(r):
                self.skip()
                continue
            if not self.accept(r, self.pos - self.start):
                self.unread()
                break
        return True

    def scan_lbrack(self, r: str) -> bool:
        if not self.mode & SCAN_LBRACK:
            return False
        if r == "$":
            if self.read() == "{":
                return True
            self.unread()
        return False

    def scan_rbrack(self, r: str) -> bool:
        return bool(self.mode & SCAN_RBRACK) and r == "}"

    def escaped(self, r: str) -> bool:
        if not self.mode & SCAN_ESCAPE:
            return False
        if r == "$" and self.escape & DOLLAR and self.peek() == "$":
            return True
        return r == "\\" and bool(self.escape & BACKSLASH) and self.peek() in ("/", "\\")


Node = tuple[Any, ...]  # ("text", value) | ("func", param, name, [args])


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = _Scanner(text)

    def set(self, accept: str, mode: int) -> None:
        self.s.accept, self.s.mode = ACCEPT[accept], mode

    def parse_any(self) -> list[Node]:
        nodes: list[Node] = []
        while True:  # drone/envsubst recurses here; a loop gives the same list
            self.set("rune", SCAN_IDENT | SCAN_LBRACK | SCAN_ESCAPE)
            self.s.escape = DOLLAR
            token = self.s.scan()
            if token == IDENT:
                nodes.append(("text", self.s.string()))
            elif token == EOF_TOKEN:
                return nodes
            elif token == LBRACK:
                nodes.append(self.parse_func())
            else:
                raise SubstitutionError("bad substitution")

    def parse_func(self) -> Node:
        self.s.escape = DOLLAR | BACKSLASH
        if self.s.peek() == "#":
            return self.parse_len()
        self.set("ident", SCAN_IDENT)
        if self.s.scan() != IDENT:
            raise SubstitutionError("unable to parse variable name")
        name = self.s.string()
        nxt = self.s.peek()
        if nxt == ":":
            return self.parse_default_or_substr(name)
        if nxt == "=":
            return self.parse_default(name)
        if nxt in (",", "^"):
            return self.parse_casing(name)
        if nxt == "/":
            return self.parse_replace(name)
        if nxt == "#":
            return self.parse_remove(name, "hash_func")
        if nxt == "%":
            return self.parse_remove(name, "percent_func")
        self.set("ident", SCAN_RBRACK)
        if self.s.scan() != RBRACK:
            raise SubstitutionError("missing closing brace")
        return ("func", name, "", [])

    def parse_param(self, accept: str, mode: int) -> Node:
        self.set(accept, mode | SCAN_LBRACK)
        token = self.s.scan()
        if token == LBRACK:
            return self.parse_func()
        if token in (IDENT, RBRACK):
            return ("text", self.s.string())
        raise SubstitutionError("unable to parse substitution within function")

    def operator(self, accept: str, error: str = "bad substitution") -> str:
        self.set(accept, SCAN_IDENT)
        if self.s.scan() != IDENT:
            raise SubstitutionError(error)
        return self.s.string()

    def parse_default_or_substr(self, name: str) -> Node:
        self.s.read()
        r = self.s.peek()
        self.s.unread()
        return (
            self.parse_default(name)
            if r in ("=", "-", "?", "+") and r != EOF
            else self.parse_substr(name)
        )

    def parse_substr(self, name: str) -> Node:
        op = self.operator("one_colon")
        args = [self.parse_param("reject_colon_close", SCAN_IDENT)]
        self.set("colon", SCAN_IDENT | SCAN_RBRACK)
        token = self.s.scan()
        if token == RBRACK:
            return ("func", name, op, args)
        if token != IDENT:
            raise SubstitutionError("bad substitution")
        args.append(self.parse_param("not_closing", SCAN_IDENT))
        self.consume_rbrack()
        return ("func", name, op, args)

    def parse_remove(self, name: str, accept: str) -> Node:
        op = self.operator(accept)
        args = [self.parse_param("not_closing", SCAN_IDENT)]
        self.consume_rbrack()
        return ("func", name, op, args)

    def parse_replace(self, name: str) -> Node:
        op = self.operator("replace_func")
        args = [self.parse_param("not_slash", SCAN_IDENT | SCAN_ESCAPE)]
        self.operator("slash")
        if self.s.peek() == "}":
            self.consume_rbrack()
            return ("func", name, op, args)
        args.append(self.parse_param("not_closing", SCAN_IDENT | SCAN_ESCAPE))
        self.consume_rbrack()
        return ("func", name, op, args)

    def parse_default(self, name: str) -> Node:
        accept = "one_equal" if self.s.peek() == "=" else "default_func"
        op = self.operator(accept, "unable to parse default function")
        args: list[Node] = []
        while True:
            if self.s.peek() == "}":
                self.consume_rbrack()
                return ("func", name, op, args)
            args.append(self.parse_param("not_closing", SCAN_IDENT))

    def parse_casing(self, name: str) -> Node:
        op = self.operator("casing_func")
        self.consume_rbrack()
        return ("func", name, op, [])

    def parse_len(self) -> Node:
        op = self.operator("one_hash")
        param = self.operator("ident")
        self.consume_rbrack()
        return ("func", param, op, [])

    def consume_rbrack(self) -> None:
        self.s.mode = SCAN_RBRACK
        if self.s.scan() != RBRACK:
            raise SubstitutionError("bad substitution")


def parse(text: str) -> list[Node]:
    """The nodes of `text` (SubstitutionError for malformed `${...}`)."""
    return _Parser(text).parse_any()
