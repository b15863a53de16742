"""Safe YAML: the libyaml C loader, plain-data tags only, and an expansion budget checked on
the composed node graph before any Python object is built (billion laughs, recursion,
duplicate keys). Pure: no I/O; used for manifests and for the small files read while
planning (kustomizations, Chart.yaml)."""
from __future__ import annotations

import functools
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

if not getattr(yaml, "__with_libyaml__", False) or not hasattr(yaml, "CSafeLoader"):
    raise ImportError("PyYAML was built without libyaml; gitops-bot needs yaml.CSafeLoader")

_T = "tag:yaml.org,2002:"
# Only plain JSON-like data: no python/*, set, omap, pairs or application tags.
SAFE_TAGS = frozenset(_T + t for t in ("null", "bool", "int", "float", "str", "seq", "map",
                                        "timestamp", "binary", "merge"))


class Loader(yaml.CSafeLoader):
    """CSafeLoader that keeps timestamps and binaries as strings, as Kubernetes does."""


def _as_string(loader: Loader, node: Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


Loader.add_constructor(_T + "timestamp", _as_string)
Loader.add_constructor(_T + "binary", _as_string)


class Refused(Exception):
    """A document graph that must not be constructed."""

    def __init__(self, message: str, line: int | None, fatal: bool = False) -> None:
        super().__init__(message)
        self.line, self.fatal = line, fatal


def line_of(node: Node) -> int:
    """1-based line where `node` starts."""
    return int(node.start_mark.line) + 1


def _children(node: Node) -> list[Node]:
    if type(node) is MappingNode:
        return [n for pair in node.value for n in pair]
    return list(node.value)


def check_graph(root: Node, budget: int) -> tuple[int, list[Refused]]:
    """Expanded node count of `root` (aliases at full size) and the problems found.

    Iterative, memoised per node so a billion-laughs graph costs only its distinct nodes;
    raises a fatal Refused for a recursive alias or once the count passes `budget`.
    """
    if type(root) is ScalarNode:
        bad = root.tag not in SAFE_TAGS
        return 1, [Refused(_tag_message(root), line_of(root))] if bad else []
    sizes: dict[int, int] = {}
    problems: list[Refused] = []
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
                raise Refused(f"YAML expands to more than {budget} nodes (alias bomb?); "
                               "refused", line_of(node), fatal=True)
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_stack:
            raise Refused("recursive YAML alias; refused", line_of(node), fatal=True)
        on_stack.add(key)
        kids = _children(node)
        stack.append((node, kids))
        if node.tag not in SAFE_TAGS:
            problems.append(Refused(_tag_message(node), line_of(node)))
        if type(node) is MappingNode:
            seen: set[tuple[str, str]] = set()
            for k, _ in node.value:
                if type(k) is ScalarNode:
                    ident = (k.tag, k.value)
                    if ident in seen:
                        problems.append(Refused(
                            f"duplicate key {k.value!r} at line {line_of(k)}", line_of(k)))
                    seen.add(ident)
        for c in kids:
            if type(c) is ScalarNode:
                if c.tag not in SAFE_TAGS:
                    problems.append(Refused(_tag_message(c), line_of(c)))
            elif id(c) in on_stack:
                raise Refused("recursive YAML alias; refused", line_of(c), fatal=True)
            elif id(c) not in sizes:
                stack.append((c, None))
    return sizes[id(root)], problems


def _tag_message(node: Node) -> str:
    tag = str(node.tag)
    shown = "!!" + tag[len(_T):] if tag.startswith(_T) else tag
    return f"unsupported YAML tag {shown}; only plain data is allowed"




@functools.lru_cache(maxsize=4096)  # the same kustomizations are read by every target
def load_one(data: bytes, *, max_bytes: int = 1024 * 1024, max_nodes: int = 200_000) -> Any:
    """The first document of a small YAML file; None when it is empty, too large, invalid,
    or refused (unsafe tag, duplicate key, alias bomb). Callers that must explain a refusal
    use bot.render.yamlload instead. The value is shared between callers: read-only."""
    if len(data) > max_bytes:
        return None
    loader = Loader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _, problems = check_graph(node, max_nodes)
        return None if problems else loader.construct_document(node)
    except (yaml.YAMLError, Refused):
        return None
    finally:
        loader.dispose()
