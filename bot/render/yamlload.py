"""Safe, budgeted loading of Kubernetes YAML with the libyaml C loader only."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.model import Finding, Manifest, Severity
from bot.render.sandbox import Budgets

if not getattr(yaml, "__with_libyaml__", False) or not hasattr(yaml, "CSafeLoader"):
    raise ImportError("PyYAML was built without libyaml; gitops-bot needs yaml.CSafeLoader")

_T = "tag:yaml.org,2002:"
# Only plain JSON-like data: no python/*, set, omap, pairs or application tags.
SAFE_TAGS = frozenset(_T + t for t in ("null", "bool", "int", "float", "str", "seq", "map",
                                        "timestamp", "binary", "merge"))


class _Loader(yaml.CSafeLoader):
    """CSafeLoader that keeps timestamps and binaries as strings, as Kubernetes does."""


def _as_string(loader: _Loader, node: Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor(_T + "timestamp", _as_string)
_Loader.add_constructor(_T + "binary", _as_string)


class _Refused(Exception):
    """A document graph that must not be constructed."""

    def __init__(self, message: str, line: int | None, fatal: bool = False) -> None:
        super().__init__(message)
        self.line, self.fatal = line, fatal


@dataclass(frozen=True)
class Document:
    """One non-empty YAML document: its data, 1-based start line and `items` lines."""

    data: Any
    line: int
    item_lines: tuple[int, ...] | None = None


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _children(node: Node) -> list[Node]:
    if type(node) is MappingNode:
        return [n for pair in node.value for n in pair]
    return list(node.value)


def _check_graph(root: Node, budget: int) -> tuple[int, list[_Refused]]:
    """Expanded node count of `root` (aliases at full size) and the problems found.

    Iterative, memoised per node so a billion-laughs graph costs only its distinct nodes;
    raises a fatal _Refused for a recursive alias or once the count passes `budget`.
    """
    if type(root) is ScalarNode:
        bad = root.tag not in SAFE_TAGS
        return 1, [_Refused(_tag_message(root), _line(root))] if bad else []
    sizes: dict[int, int] = {}
    problems: list[_Refused] = []
    on_stack: set[int] = set()
    stack: list[tuple[Node, list[Node] | None]] = [(root, None)]
    while stack:
        node, kids = stack.pop()
        key = id(node)
        if kids is not None:  # second visit: every child is sized
            on_stack.discard(key)
            total = 1
            for c in kids:
                total += 1 if type(c) is ScalarNode else sizes[id(c)]
            if total > budget:
                raise _Refused(f"YAML expands to more than {budget} nodes (alias bomb?); "
                               "refused", _line(node), fatal=True)
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_stack:
            raise _Refused("recursive YAML alias; refused", _line(node), fatal=True)
        on_stack.add(key)
        kids = _children(node)
        stack.append((node, kids))
        if node.tag not in SAFE_TAGS:
            problems.append(_Refused(_tag_message(node), _line(node)))
        if type(node) is MappingNode:
            seen: set[tuple[str, str]] = set()
            for k, _ in node.value:
                if type(k) is ScalarNode:
                    ident = (k.tag, k.value)
                    if ident in seen:
                        problems.append(_Refused(
                            f"duplicate key {k.value!r} at line {_line(k)}", _line(k)))
                    seen.add(ident)
        for c in kids:
            if type(c) is ScalarNode:
                if c.tag not in SAFE_TAGS:
                    problems.append(_Refused(_tag_message(c), _line(c)))
            elif id(c) in on_stack:
                raise _Refused("recursive YAML alias; refused", _line(c), fatal=True)
            elif id(c) not in sizes:
                stack.append((c, None))
    return sizes[id(root)], problems


def _tag_message(node: Node) -> str:
    tag = str(node.tag)
    shown = "!!" + tag[len(_T):] if tag.startswith(_T) else tag
    return f"unsupported YAML tag {shown}; only plain data is allowed"


def _error(message: str, file: str, line: int | None) -> Finding:
    return Finding(Severity.ERROR, "render", message, file=file, line=line)


def load_documents(data: bytes, file: str,
                   budgets: Budgets) -> tuple[list[Document], list[Finding]]:
    """All non-null documents of a YAML stream, checked before construction."""
    if len(data) > budgets.max_file_bytes:
        return [], [_error(f"{file} is too large ({len(data)} bytes, limit "
                           f"{budgets.max_file_bytes})", file, None)]
    docs: list[Document] = []
    findings: list[Finding] = []
    used = 0
    loader = _Loader(data)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            try:
                size, problems = _check_graph(node, budgets.max_yaml_nodes - used)
            except _Refused as exc:
                findings.append(_error(str(exc), file, exc.line))
                break
            used += size
            if problems:
                problems.sort(key=lambda p: p.line or 0)
                findings += [_error(str(p), file, p.line) for p in problems]
                continue
            value = loader.construct_document(node)
            if value is not None:
                items = _items_nodes(node)
                docs.append(Document(value, _line(node), None if items is None else
                                     tuple(_line(n) for n in items)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        findings.append(_error(f"YAML syntax error: {exc.problem or exc.context}", file, line))
    except yaml.YAMLError as exc:
        findings.append(_error(f"invalid YAML: {exc}", file, None))
    finally:
        loader.dispose()
    return docs, findings


def _items_nodes(node: Node) -> list[Node] | None:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == "items" and isinstance(v, SequenceNode):
                return list(v.value)
    return None


def _object(body: Any, file: str, line: int) -> Manifest | Finding:
    if not isinstance(body, dict):
        return _error(f"document is a {type(body).__name__}, not a Kubernetes object "
                      "(a mapping with apiVersion and kind)", file, line)
    missing = [k for k in ("apiVersion", "kind") if not isinstance(body.get(k), str)
               or not body.get(k)]
    if missing:
        return _error(f"object has no {' or '.join(missing)}", file, line)
    return Manifest(body=body, file=file, line=line)


def load_manifests(data: bytes, file: str,
                   budgets: Budgets) -> tuple[list[Manifest], list[Finding]]:
    """Kubernetes objects of a multi-document YAML stream, `kind: *List` unwrapped."""
    docs, findings = load_documents(data, file, budgets)
    out: list[Manifest] = []
    for doc in docs:
        body = doc.data
        kind = body.get("kind") if isinstance(body, dict) else None
        items = body.get("items") if isinstance(body, dict) else None
        if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
            known = doc.item_lines
            lines = (list(known) if known is not None and len(known) == len(items)
                     else [doc.line] * len(items))
            results = [_object(item, file, ln) for item, ln in zip(items, lines)]
        else:
            results = [_object(body, file, doc.line)]
        for result in results:
            if isinstance(result, Manifest):
                out.append(result)
            else:
                findings.append(result)
    return out, findings
