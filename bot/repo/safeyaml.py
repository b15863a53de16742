"""Safe YAML read as Kubernetes reads it: the libyaml C parser, plain-data tags only, an
expansion budget checked on the composed node graph before any Python object is built
(billion laughs, recursion, duplicate keys), and scalars resolved the way kubectl and the API
server resolve them (sigs.k8s.io/yaml, which decodes with go-yaml v2), not as PyYAML's YAML
1.1 resolver does. Pure: no I/O; used for manifests and for the small files read while
planning (kustomizations, Chart.yaml)."""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

if not getattr(yaml, "__with_libyaml__", False) or not hasattr(yaml, "CSafeLoader"):
    raise ImportError("PyYAML was built without libyaml; gitops-bot needs yaml.CSafeLoader")

_T = "tag:yaml.org,2002:"
# Only plain JSON-like data: no python/*, set, omap, pairs or application tags.
SAFE_TAGS = frozenset(
    _T + t
    for t in ("null", "bool", "int", "float", "str", "seq", "map", "timestamp", "binary", "merge")
)


# go-yaml v2's resolve table (resolve.go): what a plain scalar means when it is decoded into
# an untyped value, as kubectl and the API server decode manifests.
_BOOLS = {
    **dict.fromkeys(
        ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True
    ),
    **dict.fromkeys(
        ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False
    ),
}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_INT64 = 1 << 63


def go_int(text: str) -> int | None:
    """Go's strconv.ParseInt(s, 0, 64), then ParseUint, after removing `_`, as go-yaml v2
    reads an integer: `0x`, `0o`, `0b` prefixes and a leading `0` for octal; None when the
    text is not one."""
    plain = text.replace("_", "")
    sign = ""
    if plain[:1] in ("+", "-"):
        sign, plain = plain[0], plain[1:]
    base, body = 10, plain
    if plain[:2].lower() in ("0x", "0o", "0b"):
        base, body = {"x": 16, "o": 8, "b": 2}[plain[1].lower()], plain[2:]
    elif len(plain) > 1 and plain[0] == "0":
        base, body = 8, plain[1:]
    allowed = {16: "0123456789abcdefABCDEF", 10: "0123456789", 8: "01234567", 2: "01"}[base]
    if not body or any(c not in allowed for c in body):
        return None
    value = int(body, base) * (-1 if sign == "-" else 1)
    if -_INT64 <= value < _INT64 or (not sign and value < 1 << 64):
        return value
    return None


def go_float(text: str) -> float | None:
    """A float as go-yaml v2 reads it (`1e3`, `1.`, `.5`, `08`), or None."""
    if text[:1] == ".":
        return float(text) if _DOT_FLOAT.fullmatch(text) else None
    plain = text.replace("_", "")
    return float(plain) if _GO_FLOAT.fullmatch(plain) else None


def resolve_plain(value: str) -> str:
    """The tag go-yaml v2 gives a plain (unquoted) scalar: bool, null, int, float, merge or
    str. `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0o17` and `08`/`1e3` are numbers,
    `1:30` (YAML 1.1 base 60) and `=` (YAML 1.1 `value`) are strings."""
    if value == "<<":
        return _T + "merge"
    first = value[:1]
    if value in _NULLS:
        return _T + "null"
    if first in "yYnNtTfFoO~":
        return _T + "bool" if value in _BOOLS else _T + "str"
    if first == ".":
        return (
            _T + "float" if value in _SPECIAL_FLOATS or go_float(value) is not None else _T + "str"
        )
    if first and first in "+-0123456789":
        if value in _SPECIAL_FLOATS:
            return _T + "float"
        if go_int(value) is not None:
            return _T + "int"
        if go_float(value) is not None:
            return _T + "float"
    return _T + "str"


class Loader(yaml.CSafeLoader):
    """CSafeLoader resolving scalars as Kubernetes does (go-yaml v2 via sigs.k8s.io/yaml):
    timestamps and binaries stay strings, `<<` merges apply in document order, map keys
    become the strings JSON will carry."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return resolve_plain(value)
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]

    def flatten_mapping(self, node: MappingNode) -> None:
        """Expand `<<` in place, in order: go-yaml v2 sets merged keys when it meets `<<`, so
        a key written before the merge is overridden and one written after wins; of a
        list of maps, the first wins."""
        pairs: list[tuple[Node, Node]] = []
        for key, value in node.value:
            if key.tag != _T + "merge":
                pairs.append((key, value))
                continue
            sources = value.value if isinstance(value, SequenceNode) else [value]
            if not isinstance(value, (MappingNode, SequenceNode)) or not all(
                isinstance(s, MappingNode) for s in sources
            ):
                raise ConstructorError(
                    None,
                    None,
                    "map merge requires a map or a sequence of maps as the value",
                    value.start_mark,
                )
            for source in reversed(sources):
                self.flatten_mapping(source)
                pairs.extend(source.value)
        node.value = pairs

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = json_key(self.construct_object(key_node, deep=True), key_node)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def json_key(key: Any, node: Node) -> str:
    """A map key as sigs.k8s.io/yaml turns it into a JSON key (`true`, `1`, `1.5`)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return {float("inf"): ".inf", float("-inf"): "-.inf"}.get(
            key, ".nan" if key != key else f"{key:g}"
        )
    raise ConstructorError(
        None,
        None,
        f"unsupported map key {key!r} (a JSON object key must be a string)",
        node.start_mark,
    )


def _as_string(loader: Loader, node: Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _int(loader: Loader, node: Node) -> int | float:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    value = go_int(text)
    if value is not None:
        return value
    number = go_float(text)
    if number is None:
        raise ConstructorError(None, None, f"{text!r} is not an integer", node.start_mark)
    return _json_number(number)


def _float(loader: Loader, node: Node) -> int | float:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    number = _SPECIAL_FLOATS.get(text, go_float(text))
    if number is None:
        value = go_int(text)
        if value is None:
            raise ConstructorError(None, None, f"{text!r} is not a number", node.start_mark)
        return value
    return _json_number(number)


def _json_number(number: float) -> int | float:
    # encoding/json writes a whole float without a fraction (1.0 -> 1), so the API server
    # sees an integer: `replicas: 1.0` is valid Kubernetes.
    if number == number and abs(number) < 1e21 and number.is_integer():
        return int(number)
    return number


def _bool(loader: Loader, node: Node) -> bool:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if text in _BOOLS:
        return _BOOLS[text]
    raise ConstructorError(None, None, f"{text!r} is not a boolean", node.start_mark)


Loader.add_constructor(_T + "timestamp", _as_string)
Loader.add_constructor(_T + "binary", _as_string)
Loader.add_constructor(_T + "int", _int)
Loader.add_constructor(_T + "float", _float)
Loader.add_constructor(_T + "bool", _bool)


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
                raise Refused(
                    f"YAML expands to more than {budget} nodes (alias bomb?); refused",
                    line_of(node),
                    fatal=True,
                )
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
                        problems.append(
                            Refused(f"duplicate key {k.value!r} at line {line_of(k)}", line_of(k))
                        )
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
    shown = "!!" + tag[len(_T) :] if tag.startswith(_T) else tag
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
