"""SOPS-encrypted objects: a top-level `sops:` block and `ENC[...]` values in place of scalars.

SOPS (https://github.com/getsops/sops) encrypts the leaf values of a YAML file and adds its
metadata under `sops` (always with `mac`, `lastmodified` and `version`). Such an object is
checked against a variant of its kind's schema: `sops` is allowed at the root and every
value position that holds a scalar (string, integer, number, boolean, or an enum) also
accepts an encrypted string, whatever type the plain value would have. Objects and lists
keep their full checks, so a typo'd field name is still an error. (Plain string positions
already accept an encrypted string and stay as they are.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.validate.schemas import ALTERNATIVE

# The value format SOPS writes (aes/cipher.go); type is str, int, float, bool, bytes or comment.
ENCRYPTED_PATTERN = r"^ENC\[AES256_GCM,data:.*,iv:.+,tag:.+,type:[a-z]+\]$"
_ENCRYPTED = {"type": "string", "pattern": ENCRYPTED_PATTERN, ALTERNATIVE: "a SOPS-encrypted value"}
_SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean", "null"})
_VALUE_MAPS = frozenset({"properties", "patternProperties"})
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_STRING_LIMITS = frozenset({"pattern", "enum", "const", "format", "minLength", "maxLength"})


def is_encrypted(body: Any) -> bool:
    """True for an object carrying SOPS metadata (a top-level `sops` mapping with a `mac`)."""
    if not isinstance(body, dict | Mapping):
        return False
    meta = body.get("sops")  # None for nearly every object: keep that path short
    return meta is not None and isinstance(meta, Mapping) and "mac" in meta


def encrypted_identity(body: Mapping[str, Any]) -> list[str]:
    """The identity fields (apiVersion, kind) SOPS encrypted, which nothing can read."""
    return [
        k
        for k in ("apiVersion", "kind")
        if isinstance(body.get(k), str) and body[k].startswith("ENC[")
    ]


def _scalar(node: Any, defs: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """True when `node` only admits scalar values (so an encrypted string may stand in)."""
    if not isinstance(node, Mapping):
        return False
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rpartition("/")[2]
        return name not in seen and _scalar(defs.get(name), defs, seen | {name})
    types = node.get("type")
    if types is not None:
        listed = types if isinstance(types, list) else [types]
        return bool(listed) and all(t in _SCALAR_TYPES for t in listed)
    branches = [b for j in _JUNCTORS[1:] for b in node.get(j, ())]
    if branches:
        return all(_scalar(b, defs, seen) for b in branches)
    return "enum" in node


def _any_string(node: Any, defs: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """True when `node` already accepts every string (an encrypted one passes unchanged)."""
    if not isinstance(node, Mapping):
        return False
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rpartition("/")[2]
        return name not in seen and _any_string(defs.get(name), defs, seen | {name})
    types = node.get("type")
    if types is not None:
        listed = types if isinstance(types, list) else [types]
        return "string" in listed and not _STRING_LIMITS & set(node)
    return any(_any_string(b, defs, seen) for j in _JUNCTORS[1:] for b in node.get(j, ()))


def _value(node: Any, defs: Mapping[str, Any]) -> Any:
    """A schema in a value position, opened to encrypted strings where it is scalar."""
    inner = _walk(node, defs)
    if _scalar(node, defs) and not _any_string(node, defs):
        return {"anyOf": [inner, _ENCRYPTED]}
    return inner


def _walk(node: Any, defs: Mapping[str, Any]) -> Any:
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _VALUE_MAPS and isinstance(value, Mapping):
            out[key] = {name: _value(sub, defs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = _value(value, defs)
        elif key == "items" and isinstance(value, list):
            out[key] = [_value(sub, defs) for sub in value]
        elif key in _JUNCTORS and isinstance(value, list):
            # Branches are not value positions: opening each one would let an encrypted
            # string match several `oneOf` branches at once.
            out[key] = [_walk(sub, defs) for sub in value]
        elif key == "$defs" and isinstance(value, Mapping):
            out[key] = {name: _walk(sub, defs) for name, sub in value.items()}
        else:
            out[key] = value
    return out


def variant(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema SOPS-encrypted objects of a kind are checked against (self-contained in,
    self-contained out)."""
    defs = schema.get("$defs") or {}
    out: dict[str, Any] = _walk(schema, defs)
    out["properties"] = {**out.get("properties", {}), "sops": {"type": "object"}}
    return out
