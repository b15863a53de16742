"""PURE: the one table of kustomization fields that name local paths.

Two walkers read kustomizations: `bot.repo.kustomize_refs` (which files a target reads, so
which changes touch it) and the render sandbox `bot.render.kustomize` (which references it
checks before kustomize runs). Both take their references from `path_refs` here, so a field
known to one is known to the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any


class RefKind(str, Enum):
    """What a referenced path may be."""

    BUILD = "build"  # a file of objects, or a directory holding a kustomization
    PLUGIN = "plugin"  # a generator/transformer/validator: a directory or a plugin config file
    FILE = "file"  # read as data (patch, env file, CRD, values file, chart home)


@dataclass(frozen=True)
class Field:
    """A kustomization key and where its paths sit.

    `shape`: "strings" (a list of paths, or one path), "items" (a list of mappings whose
    `subkeys` hold paths or lists of paths), "mapping" (one mapping, same `subkeys`).
    `key_value`: entries may be `key=path` (generator files): the path is after the `=`.
    """

    name: str
    shape: str
    kind: RefKind
    subkeys: tuple[str, ...] = ()
    key_value: bool = False


FIELDS: tuple[Field, ...] = (
    Field("resources", "strings", RefKind.BUILD),
    Field("bases", "strings", RefKind.BUILD),
    Field("components", "strings", RefKind.BUILD),
    Field("generators", "strings", RefKind.PLUGIN),
    Field("transformers", "strings", RefKind.PLUGIN),
    Field("validators", "strings", RefKind.PLUGIN),
    Field("crds", "strings", RefKind.FILE),
    Field("configurations", "strings", RefKind.FILE),
    Field("patchesStrategicMerge", "strings", RefKind.FILE),
    Field("patches", "items", RefKind.FILE, ("path",)),
    Field("patchesJson6902", "items", RefKind.FILE, ("path",)),
    Field("replacements", "items", RefKind.FILE, ("path",)),
    Field("configMapGenerator", "items", RefKind.FILE, ("files", "envs", "env"), True),
    Field("secretGenerator", "items", RefKind.FILE, ("files", "envs", "env"), True),
    Field("openapi", "mapping", RefKind.FILE, ("path",)),
    Field("helmGlobals", "mapping", RefKind.FILE, ("chartHome",)),
    Field("helmCharts", "items", RefKind.FILE, ("valuesFile", "additionalValuesFiles")),
    Field("helmChartInflationGenerator", "items", RefKind.FILE, ("chartHome", "values")),
)

# Fields whose entries put objects into the output; a kustomization with none of them is a
# partial one (patches or transformers only) that renders nothing on its own.
OBJECT_FIELDS = (
    "resources",
    "bases",
    "components",
    "generators",
    "configMapGenerator",
    "secretGenerator",
    "helmCharts",
    "helmChartInflationGenerator",
)


@dataclass(frozen=True)
class Ref:
    """One local-looking path a kustomization names (remote ones are included: the caller
    refuses or skips them)."""

    field: str
    path: str
    kind: RefKind


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def is_inline(value: str) -> bool:
    """An inline patch or plugin config rather than a path."""
    stripped = value.strip()
    return not stripped or "\n" in stripped or stripped.startswith("{")


def _entries(field: Field, value: Any) -> Iterator[str]:
    if field.shape == "strings":
        yield from _strings(value)
        return
    items = [value] if field.shape == "mapping" else value
    for item in items if isinstance(items, list) else ():
        if isinstance(item, str) and field.shape == "items" and not field.key_value:
            yield item  # not valid kustomize, but what it names must still be checked
        elif isinstance(item, dict):
            for sub in field.subkeys:
                for entry in _strings(item.get(sub)):
                    yield entry.split("=", 1)[-1] if field.key_value else entry


def path_refs(kustomization: dict[str, Any]) -> Iterator[Ref]:
    """Every path (not inline content) a kustomization names, in table order."""
    for field in FIELDS:
        if field.name in kustomization:
            for entry in _entries(field, kustomization[field.name]):
                if not is_inline(entry):
                    yield Ref(field.name, entry, field.kind)


def inline_plugins(kustomization: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, text) for generator/transformer/validator configs written inline."""
    for field in FIELDS:
        if field.kind is RefKind.PLUGIN:
            for entry in _strings(kustomization.get(field.name)):
                if is_inline(entry) and entry.strip():
                    yield field.name, entry


def renders_objects(kustomization: dict[str, Any]) -> bool:
    """Whether a kustomization has a field that produces objects (else it is partial)."""
    return any(kustomization.get(name) for name in OBJECT_FIELDS)
