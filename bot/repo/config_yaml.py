"""YAML with positions for config files: compose, locate a key path, explain schema errors."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from bot.errors import ConfigError

Path = Sequence[str | int]
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?([^\s#'\"\-{}\[\]][^:#]*?|'[^']*'|\"[^\"]*\")\s*:(\s|$)")


def key_str(path: Path) -> str | None:
    """Dotted form of a key path: `apps.web.environments.staging.values[0]`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _key_near(text: str, line: int) -> str | None:
    """Best guess of the key path around a 1-based line, for syntax errors (indentation only)."""
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines()[:line]:
        m = _KEY_LINE.match(raw)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(2).strip("'\"")))
    return ".".join(k for _, k in stack) or None


def compose(text: str, file: str) -> yaml.Node | None:
    """The single YAML document of `text` as a node tree (None when empty)."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        # the construct left open (context) names the culprit key better than where it broke
        key_line = exc.context_mark.line + 1 if exc.context_mark else line
        context = f"{exc.context} (line {key_line})" if exc.context else None
        reason = "; ".join(str(p) for p in (context, exc.problem) if p) or "invalid YAML"
        raise ConfigError(
            f"invalid YAML: {reason}",
            file=file,
            line=line,
            key=_key_near(text, key_line) if key_line else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file, line=1) from None
    if len(nodes) > 1:
        raise ConfigError(
            "expected one YAML document, found several",
            file=file,
            line=nodes[1].start_mark.line + 1,
        )
    return nodes[0] if nodes else None


def check_keys(node: yaml.Node, file: str, path: tuple[str | int, ...] = ()) -> None:
    """Reject non-string and duplicate mapping keys (PyYAML silently keeps the last one)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                if key.tag == "tag:yaml.org,2002:merge":
                    continue
                raise ConfigError(
                    "keys must be strings (quote it: YAML reads on/off/yes/no, "
                    "numbers and null as other types)",
                    file=file,
                    line=key.start_mark.line + 1,
                    key=key_str([*path, str(getattr(key, "value", "?"))]),
                )
            if key.value in seen:
                raise ConfigError(
                    "duplicate key",
                    file=file,
                    line=key.start_mark.line + 1,
                    key=key_str([*path, key.value]),
                )
            seen.add(key.value)
            check_keys(value, file, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            check_keys(item, file, (*path, i))


def construct(node: yaml.Node) -> Any:
    """Plain Python data (dict, list, str, int, float, bool, None) of a node tree."""
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def find(root: yaml.Node | None, path: Path) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(key node, value node) at `path`, as deep as the path exists."""
    key_node: yaml.Node | None = None
    node = root
    for part in path:
        child: tuple[yaml.Node | None, yaml.Node] | None = None
        if isinstance(node, yaml.MappingNode):
            child = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = (None, node.value[part])
        if child is None:
            break
        key_node, node = child
    return key_node, node


def line_of(root: yaml.Node | None, path: Path) -> int | None:
    """1-based line of the key (or list item) at `path`; 1 for the document itself."""
    key_node, node = find(root, path)
    where = key_node or node
    return where.start_mark.line + 1 if where is not None else 1


def key_lines(node: yaml.Node, prefix: tuple[str | int, ...] = ()) -> dict[str, int]:
    """Every key path (`apps.web.path`, `apps.shop.values[0]`) under `node` -> its 1-based line."""
    out: dict[str, int] = {}
    items: list[tuple[str | int, yaml.Node, yaml.Node]] = []
    if isinstance(node, yaml.MappingNode):
        items = [(k.value, k, v) for k, v in node.value]
    elif isinstance(node, yaml.SequenceNode):
        items = [(i, v, v) for i, v in enumerate(node.value)]
    for part, mark_node, child in items:
        path = (*prefix, part)
        out[key_str(path) or ""] = mark_node.start_mark.line + 1
        out.update(key_lines(child, path))
    return out


def _extra_keys(error: ValidationError) -> list[str]:
    """Keys that an `additionalProperties: false` error rejected, in document order."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [
        k for k in instance if k not in known and not any(re.search(p, str(k)) for p in patterns)
    ]


def first_schema_error(
    validator: Validator, data: Any, root: yaml.Node | None, file: str
) -> ConfigError | None:
    """The schema error that comes first in the document, located; None when valid."""
    errors = [best_match([e]) for e in validator.iter_errors(data)]
    # a typo'd key explains the required key it stands for: report the typo, not both
    typos = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
    located = [
        schema_error(e, root, file)
        for e in errors
        if e.validator != "required" or tuple(e.absolute_path) not in typos
    ]
    return min(located, key=lambda e: (e.line or 0, e.key or ""), default=None)


def schema_error(error: ValidationError, root: yaml.Node | None, file: str) -> ConfigError:
    """A ConfigError naming the line and key that a jsonschema error is about."""
    path: list[str | int] = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    reason = error.message
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        path.append(error.instance)  # jsonschema reports key-name errors on the parent
    if error.validator == "additionalProperties" and _extra_keys(error):
        extra = _extra_keys(error)[0]
        path.append(extra)
        reason = "unknown key"
        close = difflib.get_close_matches(extra, list(schema.get("properties", {})), n=1)
        if close:
            reason += f" (did you mean {close[0]!r}?)"
        elif schema.get("properties"):
            reason += f" (allowed: {', '.join(schema['properties'])})"
    elif error.validator == "required":
        missing = re.match(r"'([^']+)'", error.message)
        if missing:
            path.append(missing.group(1))  # line_of stops at the parent, which exists
            reason = "missing required key"
    elif error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        reason = f"{error.instance!r} is not one of {', '.join(map(str, allowed))}"
        close = difflib.get_close_matches(str(error.instance), [str(a) for a in allowed], n=1)
        if close:
            reason += f" (did you mean {close[0]!r}?)"
    elif error.validator == "pattern" and "description" in schema:
        reason = f"{error.instance!r} is not {schema['description']}"
    elif error.validator == "type":
        reason = f"expected {_types(error.validator_value)}, got {_yaml_type(error.instance)}"
    elif error.validator == "minProperties":
        reason = "must not be empty"
    return ConfigError(reason, file=file, line=line_of(root, path), key=key_str(path))


def _types(value: Any) -> str:
    names = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "number": "a number",
        "integer": "an integer",
        "boolean": "true or false",
        "null": "nothing",
    }
    items = value if isinstance(value, list) else [value]
    return " or ".join(names.get(str(v), str(v)) for v in items)


def _yaml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if value is None:
        return "nothing (null)"
    return f"{value!r} ({type(value).__name__})"
