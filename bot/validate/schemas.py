"""Bundled Kubernetes JSON schemas: locate, make self-contained, compile once, report errors."""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema

SCHEMA_PACKAGE = "kubernetes_validate"
DEFS_PREFIX = "#/$defs/"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# Marks an `anyOf` branch that is an accepted alternative spelling (its value says what it
# is): errors report why the other branches failed instead of "not valid under any".
ALTERNATIVE = "x-gitops-bot-alternative"
# Keys whose values map names to schemas: their keys are names, not keywords.
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
# Dropped while rewriting: documentation only, or not checked the same way by both validators.
_DROP = frozenset({"description", "format", "default", "$schema", "$id", "example"})


class UnsupportedVersion(ValueError):
    """The requested Kubernetes version has no bundled schemas."""


class SchemaUnusable(ValueError):
    """A schema (typically from a CRD) that cannot be compiled."""


@functools.cache
def schema_root() -> Path:
    """The `kubernetes-json-schema` folder inside the installed kubernetes-validate package."""
    root = Path(str(importlib.resources.files(SCHEMA_PACKAGE).joinpath("kubernetes-json-schema")))
    if not root.is_dir():
        raise RuntimeError(f"{SCHEMA_PACKAGE} is installed without its schemas ({root})")
    return root


@functools.cache
def supported_versions() -> tuple[str, ...]:
    """Minor versions with bundled schemas, oldest first, e.g. ("1.25", ..., "1.37")."""
    found = set()
    for entry in schema_root().iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.0-local(-strict)?", entry.name)
        if match and entry.is_dir():
            found.add((int(match.group(1)), int(match.group(2))))
    return tuple(f"{major}.{minor}" for major, minor in sorted(found))


def normalize_version(version: str) -> str:
    """`1.35`, `v1.35.2` -> `v1.35.0`; UnsupportedVersion when there are no schemas for it."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", str(version).strip())
    known = supported_versions()
    span = f"{known[0]}–{known[-1]}" if known else "none"
    if not match or f"{int(match.group(1))}.{int(match.group(2))}" not in known:
        raise UnsupportedVersion(
            f"Kubernetes version {version!r} is not supported by the "
            f"bundled schemas (supported: {span})"
        )
    return f"v{int(match.group(1))}.{int(match.group(2))}.0"


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


def schema_filename(api_version: str, kind: str) -> str:
    """kubeconform's `{{ .ResourceKind }}{{ .KindSuffix }}.json` for an apiVersion and kind."""
    parts = api_version.split("/")
    suffix = "-" + parts[0].split(".")[0].lower()
    if len(parts) > 1:
        suffix += "-" + parts[1].lower()
    return f"{kind.lower()}{suffix}.json"


def _folder(version: str, strict: bool) -> Path:
    return schema_root() / f"{version}-local{'-strict' if strict else ''}"


@functools.cache
def definitions(version: str, strict: bool) -> Mapping[str, Any]:
    """The shared `$defs` of one schema folder (parsed once per process)."""
    data = json.loads((_folder(version, strict) / "_definitions.json").read_text("utf-8"))
    return data["$defs"]  # type: ignore[no-any-return]


def _rewrite(node: Any, refs: list[str], names: bool = False) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if names:
                out[key] = _rewrite(value, refs)
            elif key == "$ref" and isinstance(value, str):
                name = value.rpartition("/$defs/")[2]
                refs.append(name)
                out[key] = DEFS_PREFIX + name
            elif key not in _DROP:
                out[key] = _rewrite(value, refs, key in _NAME_MAPS)
        return out
    if isinstance(node, list):
        return [_rewrite(item, refs) for item in node]
    return node


def self_contained(top: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """`top` with refs rewritten to `#/$defs/...` and only the reachable definitions included
    (`top`'s own `$defs` first, then `defs`)."""
    refs: list[str] = []
    root: dict[str, Any] = _rewrite(dict(top), refs)
    own: dict[str, Any] = root.pop("$defs", {})
    included: dict[str, Any] = {}
    while refs:
        name = refs.pop()
        if name not in included:
            if name in own:
                included[name] = own[name]
            elif name in defs:
                included[name] = _rewrite(defs[name], refs)
            else:
                raise KeyError(f"schema refers to unknown definition {name}")
    if included:
        root["$defs"] = included
    return root


@functools.cache
def _served(version: str) -> Mapping[tuple[str, str], tuple[str, ...]]:
    """(group, kind) -> apiVersions Kubernetes `version` serves, from the definitions."""
    served: dict[tuple[str, str], list[str]] = {}
    for body in definitions(version, False).values():
        for gvk in body.get("x-kubernetes-group-version-kind", ()):
            group, ver, kind = gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")
            served.setdefault((group, kind), []).append(f"{group}/{ver}" if group else ver)
    return {key: tuple(sorted(set(vals))) for key, vals in served.items()}


def served_api_versions(version: str, group: str, kind: str) -> tuple[str, ...]:
    """apiVersions under which `kind` of `group` exists in `version` (for error hints)."""
    return _served(version).get((group, kind), ())


def builtin_schema(
    version: str, strict: bool, api_version: str, kind: str
) -> dict[str, Any] | None:
    """Self-contained schema of a built-in kind, or None when Kubernetes has no such kind."""
    path = _folder(version, strict) / schema_filename(api_version, kind)
    if not path.is_file():
        return None
    top = json.loads(path.read_text("utf-8"))
    group, ver = split_api_version(api_version)
    # The file name only keeps the group's first label: check the exact group/version/kind.
    if not any(
        (g.get("group", ""), g.get("version"), g.get("kind")) == (group, ver, kind)
        for g in top.get("x-kubernetes-group-version-kind", ())
    ):
        return None
    return self_contained(top, definitions(version, strict))


@dataclass(frozen=True, order=True)
class SchemaError:
    """One schema violation: dotted path (`spec.containers[0]`, "" for the root) and message."""

    path: str
    message: str


def format_path(parts: Iterator[Any] | list[Any] | tuple[Any, ...]) -> str:
    """["spec", "containers", 0, "a.b"] -> `spec.containers[0]["a.b"]`."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$@-][\w$@-]*", str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def _types(expected: Any) -> str:
    names = [t for t in (expected if isinstance(expected, list) else [expected]) if t != "null"]
    return " or ".join(repr(t) for t in names) or repr("null")


def _alternative_messages(
    error: jsonschema.ValidationError, quote: bool
) -> list[SchemaError] | None:
    """For `anyOf: [schema, <an encrypted value>]` (SOPS variants): why `schema` failed."""
    branches = error.validator_value if isinstance(error.validator_value, list) else []
    marked = {i for i, b in enumerate(branches) if isinstance(b, dict) and b.get(ALTERNATIVE)}
    if not marked or not error.context:
        return None
    found = [
        SchemaError(e.path, f"{e.message} (nor {branches[min(marked)][ALTERNATIVE]})")
        for sub in error.context
        if sub.schema_path and sub.schema_path[0] not in marked
        for e in _messages(sub, quote)
    ]
    return found or None


def _messages(error: jsonschema.ValidationError, quote: bool = True) -> list[SchemaError]:
    """Readable violations; with `quote=False` (Secrets) a message names the path and what
    was expected, never the value found."""
    path = format_path(list(error.absolute_path))
    if error.validator == "anyOf":
        alternative = _alternative_messages(error, quote)
        if alternative:
            return alternative
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        extra = [
            k
            for k in error.instance
            if k not in known and not any(re.search(p, k) for p in patterns)
        ]
        if extra:
            return [SchemaError(path, f"additional property {k!r} is not allowed") for k in extra]
    if error.validator == "type":
        found = _short(error.instance) if quote else f"a value of type {_json_type(error.instance)}"
        return [SchemaError(path, f"{found} is not of type {_types(error.validator_value)}")]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [SchemaError(path, f"missing required property {missing!r}")]
    if not quote:
        return [SchemaError(path, f"the value fails the schema's {error.validator!r} rule")]
    return [
        SchemaError(
            path, error.message if len(error.message) < 300 else error.message[:297] + "..."
        )
    ]


def _json_type(value: Any) -> str:
    for kind, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (list, "array"),
        (dict, "object"),
    ):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _refuse(uri: str) -> Any:
    raise ValueError(f"remote schema reference refused: {uri}")


_NO_REMOTE = {scheme: _refuse for scheme in ("http", "https", "file", "ftp")}


class CompiledSchema:
    """One self-contained schema: a fast compiled check plus a detailed one for failures."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = dict(schema)
        self._lock = threading.Lock()
        self._fast: Callable[[Any], Any] | None = None
        self._detailed: jsonschema.Draft7Validator | None = None
        self._broken: str | None = None
        self._derived: dict[str, CompiledSchema] = {}

    def derived(
        self, name: str, build: Callable[[Mapping[str, Any]], Mapping[str, Any]]
    ) -> CompiledSchema:
        """The variant `name` of this schema, `build(self.schema)`, made once (compiled lazily)."""
        with self._lock:
            if name not in self._derived:
                self._derived[name] = CompiledSchema(build(self.schema))
            return self._derived[name]

    def _fast_check(self) -> Callable[[Any], Any]:
        if self._fast is None:
            with self._lock:
                if self._broken is None and self._fast is None:
                    try:
                        self._fast = fastjsonschema.compile(
                            self.schema, handlers=_NO_REMOTE, use_default=False, use_formats=False
                        )
                    except Exception as exc:  # noqa: BLE001 - any compiler failure makes it unusable
                        self._broken = f"{type(exc).__name__}: {exc}"[:300]
                    STATS.bump("fast")
        if self._fast is None:
            raise SchemaUnusable(f"schema cannot be compiled ({self._broken})")
        return self._fast

    def _detailed_check(self) -> jsonschema.Draft7Validator:
        if self._detailed is None:
            with self._lock:
                if self._detailed is None:
                    self._detailed = jsonschema.Draft7Validator(self.schema)
                    STATS.bump("detailed")
        return self._detailed

    def is_valid(self, body: Any) -> bool:
        """True when `body` passes (the fast path)."""
        try:
            self._fast_check()(body)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    def errors(self, body: Any, *, quote_values: bool = True) -> list[SchemaError]:
        """Every violation in `body`, sorted by path; empty when it is valid. With
        `quote_values=False` no message contains a value of `body`."""
        if self.is_valid(body):
            return []
        found: set[SchemaError] = set()
        for error in self._detailed_check().iter_errors(body):
            found.update(_messages(error, quote_values))
        if not found:  # the two engines disagree: still fail, with the fast engine's words
            try:
                self._fast_check()(body)
            except fastjsonschema.JsonSchemaValueException as exc:
                found.add(
                    SchemaError(
                        format_path(exc.path[1:]),
                        exc.message if quote_values else "the value fails the schema",
                    )
                )
        return sorted(found)


class _Stats:
    """Counts of compilations, so tests can prove the cache is reused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {"fast": 0, "detailed": 0}

    def bump(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1


STATS = _Stats()
_cache: dict[Hashable, CompiledSchema | None] = {}
_cache_lock = threading.Lock()
_key_locks: dict[Hashable, threading.Lock] = {}


def compiled(key: Hashable, build: Callable[[], Mapping[str, Any] | None]) -> CompiledSchema | None:
    """The process-wide CompiledSchema for `key`, built by `build()` the first time (or None)."""
    try:
        return _cache[key]
    except KeyError:
        pass
    with _cache_lock:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:  # one builder per key; other keys proceed in parallel
        if key not in _cache:
            schema = build()
            entry = CompiledSchema(schema) if schema is not None else None
            with _cache_lock:
                _cache[key] = entry
        return _cache[key]


def clear_cache() -> None:
    """Forget every compiled schema and reset the counters (tests, benchmarks)."""
    with _cache_lock:
        _cache.clear()
        _key_locks.clear()
        STATS.counts = {"fast": 0, "detailed": 0}
