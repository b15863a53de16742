"""Safe, budgeted loading of Kubernetes YAML with the libyaml C loader only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.model import Finding, Manifest, Severity
from bot.render import parsecache
from bot.render.sandbox import Budgets
from bot.repo.safeyaml import Loader as _Loader
from bot.repo.safeyaml import Refused as _Refused
from bot.repo.safeyaml import check_graph as _check_graph
from bot.repo.safeyaml import line_of as _line


@dataclass(frozen=True)
class Document:
    """One non-empty YAML document: its data, 1-based start line and `items` lines."""

    data: Any
    line: int
    item_lines: tuple[int, ...] | None = None


def _error(message: str, file: str, line: int | None) -> Finding:
    return Finding(Severity.ERROR, "render", message, file=file, line=line)


def load_documents(
    data: bytes, file: str, budgets: Budgets
) -> tuple[list[Document], list[Finding]]:
    """All non-null documents of a YAML stream, checked before construction.

    Clean documents come from (and go to) the shared parse cache; a stream with any finding
    is read here in one piece, so its findings are always the same. The values are shared
    between callers: read-only."""
    if len(data) > budgets.max_file_bytes:
        return [], [
            _error(
                f"{file} is too large ({len(data)} bytes, limit {budgets.max_file_bytes})",
                file,
                None,
            )
        ]
    cached = parsecache.SHARED.documents(data, budgets.max_yaml_nodes, _parse_chunk)
    if cached is not None:
        return [Document(value, line, items) for value, line, items in cached], []
    return _load_stream(data, file, budgets.max_yaml_nodes)


def _parse_chunk(data: bytes, max_nodes: int) -> parsecache.Parsed | None:
    docs, findings, used = _load_stream_counted(data, "", max_nodes)
    if findings:
        return None
    return parsecache.Parsed(tuple((d.data, d.line, d.item_lines) for d in docs), used)


def _load_stream(data: bytes, file: str, max_nodes: int) -> tuple[list[Document], list[Finding]]:
    docs, findings, _ = _load_stream_counted(data, file, max_nodes)
    return docs, findings


def _load_stream_counted(
    data: bytes, file: str, max_nodes: int
) -> tuple[list[Document], list[Finding], int]:
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
                size, problems = _check_graph(node, max_nodes - used)
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
                docs.append(
                    Document(
                        value,
                        _line(node),
                        None if items is None else tuple(_line(n) for n in items),
                    )
                )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        findings.append(_error(f"YAML syntax error: {exc.problem or exc.context}", file, line))
    except yaml.YAMLError as exc:
        findings.append(_error(f"invalid YAML: {exc}", file, None))
    finally:
        loader.dispose()
    return docs, findings, used


def _items_nodes(node: Node) -> list[Node] | None:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == "items" and isinstance(v, SequenceNode):
                return list(v.value)
    return None


def _object(body: Any, file: str, line: int) -> Manifest | Finding:
    if not isinstance(body, dict):
        return _error(
            f"document is a {type(body).__name__}, not a Kubernetes object "
            "(a mapping with apiVersion and kind)",
            file,
            line,
        )
    missing = [
        k for k in ("apiVersion", "kind") if not isinstance(body.get(k), str) or not body.get(k)
    ]
    if missing:
        return _error(f"object has no {' or '.join(missing)}", file, line)
    return Manifest(body=body, file=file, line=line)


def load_manifests(
    data: bytes, file: str, budgets: Budgets
) -> tuple[list[Manifest], list[Finding]]:
    """Kubernetes objects of a multi-document YAML stream, `kind: *List` unwrapped."""
    docs, findings = load_documents(data, file, budgets)
    objects, problems = manifests_of(docs, file)
    return objects, findings + problems


def manifests_of(docs: list[Document], file: str) -> tuple[list[Manifest], list[Finding]]:
    """The objects of loaded documents (`kind: *List` unwrapped); each non-object is an error."""
    findings: list[Finding] = []
    out: list[Manifest] = []
    for doc in docs:
        body = doc.data
        kind = body.get("kind") if isinstance(body, dict) else None
        items = body.get("items") if isinstance(body, dict) else None
        if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
            known = doc.item_lines
            lines = (
                list(known)
                if known is not None and len(known) == len(items)
                else [doc.line] * len(items)
            )
            results = [_object(item, file, ln) for item, ln in zip(items, lines, strict=True)]
        else:
            results = [_object(body, file, doc.line)]
        for result in results:
            if isinstance(result, Manifest):
                out.append(result)
            else:
                findings.append(result)
    return out, findings
