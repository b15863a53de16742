"""CustomResourceDefinitions -> JSON schemas for their custom resources.

The conversion follows kubeconform's `openapi2jsonschema.py`: in strict mode every object
schema that lists `properties` gets `additionalProperties: false`, unless it carries
`x-kubernetes-preserve-unknown-fields: true` (it stays open) or already says what extra
properties may hold. Objects without `properties` stay open, as in openapi2jsonschema.
Branches of `allOf`/`anyOf`/`oneOf`/`not` are never closed (in structural schemas they only
restate fields declared outside them). `nullable` adds "null" to the type,
`x-kubernetes-int-or-string` accepts integers and strings, `x-kubernetes-embedded-resource`
objects may carry apiVersion/kind/metadata. The root always allows apiVersion (this
group/version), kind and metadata (checked against the Kubernetes ObjectMeta schema).
Properties with a `default` are read as the API server reads them after defaulting
(see `defaults`).
Only standard JSON-schema keywords are kept; regex patterns Python cannot compile are
dropped rather than failing the whole kind.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.validate import defaults
from bot.validate.schemas import DEFS_PREFIX, OBJECT_META

GVK = tuple[str, str, str]  # (group, version, kind)
CRD_API_VERSIONS = ("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1")
_KEEP = frozenset(
    {
        "type",
        "properties",
        "additionalProperties",
        "items",
        "required",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "multipleOf",
        "minProperties",
        "maxProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
    }
)
_JUNCTORS = frozenset({"allOf", "anyOf", "oneOf", "not"})
_DOLLAR = re.compile(r"(?<!\\)\$")  # fastjsonschema's DOLLAR_FINDER


def is_crd(body: Mapping[str, Any]) -> bool:
    """True for a CustomResourceDefinition manifest."""
    return (
        body.get("kind") == "CustomResourceDefinition"
        and body.get("apiVersion") in CRD_API_VERSIONS
    )


def crd_versions(body: Mapping[str, Any]) -> Iterator[tuple[GVK, Mapping[str, Any] | None]]:
    """(group, version, kind) and its openAPIV3Schema (None when absent) for each version."""
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        return
    group = str(spec.get("group") or "")
    names = spec.get("names")
    kind = str(names.get("kind") or "") if isinstance(names, Mapping) else ""
    if not group or not kind:
        return
    validation = spec.get("validation")  # v1beta1: one schema for every version
    shared = validation.get("openAPIV3Schema") if isinstance(validation, Mapping) else None
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        versions = [{"name": spec.get("version")}] if spec.get("version") else []
    for entry in versions:
        if not isinstance(entry, Mapping) or not entry.get("name"):
            continue
        schema = entry.get("schema")
        openapi = schema.get("openAPIV3Schema") if isinstance(schema, Mapping) else shared
        yield (group, str(entry["name"]), kind), openapi if isinstance(openapi, Mapping) else None


def _escape_class_dollars(pattern: str) -> str:
    """`$` inside `[...]` escaped: the same set, but fastjsonschema (which turns every
    unescaped `$` into `\\Z`, invalid in a set) can compile it. Gateway API uses such sets."""
    out: list[str] = []
    i, start = 0, -1  # start: where the open set's items begin (-1: not in a set)
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if start < 0 and char == "[":
            start = i + 2 if pattern[i + 1 : i + 2] == "^" else i + 1
        elif start >= 0 and char == "]" and i > start:
            start = -1
        elif start >= 0 and char == "$":
            char = "\\$"
        out.append(char)
        i += 1
    return "".join(out)


def _usable_pattern(pattern: Any) -> str | None:
    """`pattern` in a form both validators compile the same way, or None (dropped)."""
    text = _escape_class_dollars(str(pattern))
    try:
        re.compile(text)
        re.compile(_DOLLAR.sub(r"\\Z", text))  # what fastjsonschema compiles
    except re.error:
        return None
    return text


def _convert(node: Any, strict: bool, closable: bool = True) -> Any:
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _KEEP:
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _convert(sub, strict) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            keep_open = closable and key != "not"
            out[key] = (
                [_convert(s, strict, keep_open) for s in value]
                if isinstance(value, list)
                else _convert(value, strict, keep_open)
            )
        elif key in _JUNCTORS and isinstance(value, list):
            out[key] = [_convert(s, strict, closable=False) for s in value]
        elif key == "pattern":
            usable = _usable_pattern(value)
            if usable is not None:
                out[key] = usable
        else:
            out[key] = value
    # OpenAPI 3.0 spells exclusive bounds as booleans; draft 7 wants the number.
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool) and out.pop(bound) and limit in out:
            out[bound] = out.pop(limit)
    if node.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") is True and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    if node.get("x-kubernetes-embedded-resource") is True and "properties" in out:
        out["properties"].setdefault("apiVersion", {"type": "string"})
        out["properties"].setdefault("kind", {"type": "string"})
        out["properties"].setdefault("metadata", {"type": "object"})
    defaults.adjust(node, out)
    if (
        strict
        and closable
        and "properties" in out
        and "additionalProperties" not in out
        and node.get("x-kubernetes-preserve-unknown-fields") is not True
    ):
        out["additionalProperties"] = False
    return out


def to_json_schema(openapi: Mapping[str, Any] | None, gvk: GVK, strict: bool) -> dict[str, Any]:
    """A JSON schema for custom resources of `gvk` (refers to ObjectMeta in `$defs`)."""
    group, version, kind = gvk
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    root: dict[str, Any] = _convert(openapi or open_object, strict)
    props = root.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "enum": [f"{group}/{version}"]}
    props["kind"] = {"type": "string", "enum": [kind]}
    props["metadata"] = {"$ref": DEFS_PREFIX + OBJECT_META}
    root["type"] = "object"
    if openapi is None or openapi.get("x-kubernetes-preserve-unknown-fields") is True:
        root.pop("additionalProperties", None)
    return root


def schemas_from(bodies: Sequence[Mapping[str, Any]], strict: bool) -> dict[GVK, dict[str, Any]]:
    """Schemas for every version of every CRD among `bodies` (other objects are ignored)."""
    found: dict[GVK, dict[str, Any]] = {}
    for body in bodies:
        if isinstance(body, Mapping) and is_crd(body):
            for gvk, openapi in crd_versions(body):
                found[gvk] = to_json_schema(openapi, gvk, strict)
    return found


class _Loader(yaml.CSafeLoader):
    """Safe loader reading a plain `=` as the string Kubernetes' YAML decoder sees.

    PyYAML resolves `=` to YAML 1.1's `!!value` tag, which it cannot construct; upstream CRDs
    (the Prometheus operator's enums of label matchers) use it unquoted.
    """


def _plain_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):  # only an explicit `!!value` tag gets here
        raise yaml.constructor.ConstructorError(
            None, None, "!!value on a collection", node.start_mark
        )
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:value", _plain_string)


def load_documents(text: str) -> list[Mapping[str, Any]]:
    """The mapping documents of a YAML stream of CRDs (yaml.YAMLError when it is not YAML)."""
    return [
        d
        for d in yaml.load_all(text, Loader=_Loader)  # noqa: S506 - a safe loader
        if isinstance(d, Mapping)
    ]


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file()
    )


@functools.cache
def _load_dirs(dirs: tuple[str, ...], strict: bool) -> Mapping[GVK, dict[str, Any]]:
    bodies: list[Mapping[str, Any]] = []
    for folder in dirs:
        for path in _yaml_files(Path(folder)):
            try:
                bodies.extend(load_documents(path.read_text("utf-8")))
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    return schemas_from(bodies, strict)


def load_crd_dirs(dirs: Sequence[Path], strict: bool) -> Mapping[GVK, dict[str, Any]]:
    """Schemas from every CRD in YAML/JSON files under `dirs` (read once per process)."""
    return _load_dirs(tuple(str(Path(d).resolve()) for d in dirs), strict)
