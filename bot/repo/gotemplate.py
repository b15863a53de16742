"""PURE: the part of Go's text/template (with the sprig functions Argo CD adds) that
ApplicationSet templates use: `{{ .a.b }}`, pipelines, `if`/`else`/`with`/`range`/`end`,
variables, literals and a set of functions. Anything else is a TemplateError naming it,
so an ApplicationSet the bot cannot evaluate is reported, never half-rendered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.repo.gofuncs import FUNCS, go_str, truthy

MAX_OUTPUT = 1 << 20
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*") | (?P<raw>`[^`]*`) |
    (?P<num>-?\d+(?:\.\d+)?) |
    (?P<var>\$[A-Za-z0-9_]*) (?P<vfields>(?:\.[A-Za-z0-9_]+)*) |
    (?P<field>(?:\.[A-Za-z0-9_]+)+|\.) |
    (?P<decl>:?=) | (?P<pipe>\|) | (?P<lp>\() | (?P<rp>\)) | (?P<comma>,) |
    (?P<ident>[A-Za-z_][A-Za-z0-9_]*))""",
    re.VERBOSE,
)
_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


class TemplateError(Exception):
    """The template cannot be evaluated (syntax, a missing key, an unsupported feature)."""


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


@dataclass
class _Node:
    kind: str  # text | action | if | with | range
    text: str = ""
    pipe: list[Any] = field(default_factory=list)
    decl: list[str] = field(default_factory=list)
    body: list[_Node] = field(default_factory=list)
    other: list[_Node] = field(default_factory=list)


def _tokens(src: str) -> list[tuple[str, str]]:
    out, pos, src = [], 0, src.strip()
    while pos < len(src):
        if src.startswith("/*", pos):
            raise TemplateError("comments inside actions are not supported")
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"unexpected {src[pos : pos + 10]!r} in action {{{{{src}}}}}")
        kind = m.lastgroup or ""
        if kind == "vfields":
            kind = "var"
        text = m.group("var") + (m.group("vfields") or "") if m.group("var") else m.group(kind)
        out.append((kind, text))
        pos = m.end()
    return out


def _parse_pipeline(tokens: list[tuple[str, str]]) -> tuple[list[str], list[Any]]:
    decl: list[str] = []
    if len(tokens) >= 2 and tokens[0][0] == "var" and tokens[1][0] == "decl":
        decl, tokens = [tokens[0][1]], tokens[2:]
    elif (
        len(tokens) >= 4
        and tokens[0][0] == "var"
        and tokens[1][0] == "comma"
        and tokens[2][0] == "var"
        and tokens[3][0] == "decl"
    ):
        decl, tokens = [tokens[0][1], tokens[2][1]], tokens[4:]
    commands: list[Any] = [[]]
    depth, group = 0, []
    for tok in tokens:
        if depth:
            depth += tok[0] == "lp"
            depth -= tok[0] == "rp"
            if depth:
                group.append(tok)
            else:
                commands[-1].append(("sub", _parse_pipeline(group)[1]))
                group = []
        elif tok[0] == "lp":
            depth = 1
        elif tok[0] == "pipe":
            commands.append([])
        elif tok[0] in ("rp", "comma", "decl"):
            raise TemplateError(f"unexpected {tok[1]!r}")
        else:
            commands[-1].append(tok)
    if depth or not all(commands):
        raise TemplateError("unbalanced parentheses or empty command")
    return decl, commands


def _items(text: str) -> list[tuple[str, str]]:
    """Text and action bodies in order, with `{{-` / `-}}` whitespace trimming applied."""
    items: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for m in _ACTION.finditer(text):
        before = text[pos : m.start()]
        before = before.lstrip() if trim_next else before
        before = before.rstrip() if m.group(1) else before
        if before:
            items.append(("text", before))
        pos, trim_next = m.end(), bool(m.group(3))
        body = m.group(2).strip()
        if not (body.startswith("/*") and body.endswith("*/")):
            items.append(("action", body))
    tail = text[pos:].lstrip() if trim_next else text[pos:]
    if tail:
        items.append(("text", tail))
    return items


def _word(body: str) -> tuple[str, str]:
    word = body.split(None, 1)[0] if body else ""
    return word, body[len(word) :].strip()


def _parse_list(
    items: list[tuple[str, str]], i: int, stop: tuple[str, ...]
) -> tuple[list[_Node], int]:
    """Nodes from item `i` up to (not including) an action whose word is in `stop`."""
    nodes: list[_Node] = []
    while i < len(items):
        kind, body = items[i]
        if kind == "text":
            nodes.append(_Node("text", body))
            i += 1
            continue
        word, rest = _word(body)
        if word in stop:
            return nodes, i
        if word in ("end", "else"):
            raise TemplateError(f"unexpected {{{{{word}}}}}")
        if word in ("if", "with", "range"):
            node, i = _parse_block(items, i)
            nodes.append(node)
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"{{{{{word}}}}} is not supported")
        decl, pipe = _parse_pipeline(_tokens(body))
        nodes.append(_Node("action", pipe=pipe, decl=decl))
        i += 1
    if stop:
        raise TemplateError("unclosed {{if}}, {{with}} or {{range}}")
    return nodes, i


def _parse_block(items: list[tuple[str, str]], i: int) -> tuple[_Node, int]:
    """The if/with/range starting at item `i`, and the index after its {{end}}."""
    word, rest = _word(items[i][1])
    decl, pipe = _parse_pipeline(_tokens(rest))
    node = _Node(word, pipe=pipe, decl=decl)
    node.body, i = _parse_list(items, i + 1, ("end", "else"))
    else_word, else_rest = _word(items[i][1])
    if else_word == "end":
        return node, i + 1
    if else_rest:  # `{{else if X}}`: an if in the else branch that shares this {{end}}
        if _word(else_rest)[0] != "if":
            raise TemplateError(f"{{{{else {else_rest}}}}} is not supported")
        items = [*items[:i], ("action", else_rest), *items[i + 1 :]]
        inner, i = _parse_block(items, i)
        node.other = [inner]
        return node, i
    node.other, i = _parse_list(items, i + 1, ("end",))
    return node, i + 1


def parse(text: str) -> list[_Node]:
    """The template as a tree; TemplateError for syntax the bot does not evaluate."""
    nodes, _ = _parse_list(_items(text), 0, ())
    return nodes


class _Eval:
    def __init__(self, root: Any, missing_error: bool) -> None:
        self.root, self.missing_error = root, missing_error
        self.vars: list[dict[str, Any]] = [{"$": root}]
        self.out: list[str] = []
        self.size = 0

    def emit(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise TemplateError(f"template output larger than {MAX_OUTPUT} characters")
        self.out.append(text)

    def var(self, name: str) -> Any:
        for scope in reversed(self.vars):
            if name in scope:
                return scope[name]
        raise TemplateError(f"undefined variable {name}")

    def fields(self, value: Any, names: list[str]) -> Any:
        for name in names:
            if value is MISSING or value is None:
                raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
            if not isinstance(value, Mapping):
                raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
            if name in value:
                value = value[name]
            elif self.missing_error:
                raise TemplateError(f'map has no entry for key "{name}"')
            else:
                value = MISSING
        return value

    def operand(self, tok: tuple[str, Any], dot: Any) -> Any:
        kind, text = tok
        if kind == "field":
            return dot if text == "." else self.fields(dot, text[1:].split("."))
        if kind == "var":
            name, *names = text.split(".")
            return self.fields(self.var(name), names)
        if kind == "str":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "raw":
            return text[1:-1]
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "sub":
            return self.pipeline(text, dot)
        if kind == "ident" and text in ("true", "false"):
            return text == "true"
        if kind == "ident" and text == "nil":
            return None
        if kind == "ident":
            return self.call(text, [], dot)
        raise TemplateError(f"unexpected {text!r}")

    def call(self, name: str, args: list[Any], dot: Any) -> Any:
        if name in ("and", "or"):
            for arg in args:
                if truthy(arg) == (name == "or"):
                    return arg
            return args[-1] if args else None
        fn: Callable[..., Any] | None = FUNCS.get(name)
        if fn is None:
            raise TemplateError(f'function "{name}" is not supported')
        try:
            return fn(*args)
        except TemplateError:
            raise
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise TemplateError(f"error calling {name}: {exc}") from None

    def pipeline(self, commands: list[Any], dot: Any) -> Any:
        value: Any = None
        for i, command in enumerate(commands):
            head = command[0]
            if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
                args = [self.operand(t, dot) for t in command[1:]]
                value = self.call(head[1], args + ([value] if i else []), dot)
            elif len(command) > 1 or i:
                raise TemplateError(f"can't give argument to non-function {head[1]}")
            else:
                value = self.operand(head, dot)
        return value

    def run(self, nodes: list[_Node], dot: Any) -> None:
        for node in nodes:
            if node.kind == "text":
                self.emit(node.text)
                continue
            value = self.pipeline(node.pipe, dot)
            if node.kind == "action":
                if node.decl:
                    self.vars[-1][node.decl[0]] = value
                else:
                    self.emit("<no value>" if value is MISSING else go_str(value))
            elif node.kind in ("if", "with"):
                self.vars.append(dict.fromkeys(node.decl[:1], value))
                chosen = node.body if truthy(value) else node.other
                self.run(chosen, value if node.kind == "with" and truthy(value) else dot)
                self.vars.pop()
            else:
                self.range(node, value, dot)

    def range(self, node: _Node, value: Any, dot: Any) -> None:
        if value is MISSING or value is None or not truthy(value):
            self.run(node.other, dot)
            return
        if isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        else:
            raise TemplateError(f"range can't iterate over {go_str(value)}")
        for key, item in items:
            scope = {}
            if len(node.decl) == 2:
                scope = {node.decl[0]: key, node.decl[1]: item}
            elif node.decl:
                scope = {node.decl[0]: item}
            self.vars.append(scope)
            self.run(node.body, item)
            self.vars.pop()


def render(text: str, data: Any, *, missing_error: bool = False) -> str:
    """Execute Go template `text` with `data` as dot; `missing_error` is
    `missingkey=error` (a missing map key fails instead of printing `<no value>`)."""
    evaluator = _Eval(data, missing_error)
    evaluator.run(parse(text), data)
    return "".join(evaluator.out)
