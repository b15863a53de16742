"""What the API server does to a custom resource before validating it, in schema form.

It drops fields whose value is null (unless the schema says `nullable`) and fills in
defaults. JSON schema sees the object as written, so the converted schema is adjusted
instead: an optional property also accepts null (dropped, it could not fail); a property with
a `default` is never missing, so it leaves `required`; and a `oneOf`/`anyOf`/`allOf`/`not`
branch that constrains it judges the default, not an absent value, so a branch whose
constraint the default fails requires the property (absent, it fails as the default would).
Gateway API's `addresses` (type defaults to IPAddress; one branch per type) needs exactly this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

_BRANCH_LISTS = ("allOf", "anyOf", "oneOf")


def _defaults(node: Mapping[str, Any]) -> dict[str, Any]:
    props = node.get("properties")
    if not isinstance(props, Mapping):
        return {}
    return {
        name: sub["default"]
        for name, sub in props.items()
        if isinstance(sub, Mapping) and "default" in sub
    }


def _accepts(schema: Any, value: Any) -> bool:
    try:
        return bool(jsonschema.Draft7Validator(schema).is_valid(value))
    except (jsonschema.SchemaError, TypeError, ValueError):
        return True  # unusable here: keep the branch as JSON schema reads it


def _branch(branch: Any, defaults: Mapping[str, Any]) -> Any:
    if not isinstance(branch, dict):
        return branch
    required = [r for r in branch.get("required", ()) if r not in defaults]
    props = branch.get("properties")
    if isinstance(props, Mapping):
        required += [
            name
            for name, value in defaults.items()
            if name in props and name not in required and not _accepts(props[name], value)
        ]
    out = {k: v for k, v in branch.items() if k != "required"}
    if required:
        out["required"] = required
    return out


def _allow_null(schema: Any) -> None:
    """Let a converted property schema accept null without changing anything else."""
    if not isinstance(schema, dict):
        return
    types = schema.get("type")
    if types is not None:
        listed = types if isinstance(types, list) else [types]
        if "null" not in listed:
            schema["type"] = [*listed, "null"]
    elif isinstance(schema.get("anyOf"), list):  # x-kubernetes-int-or-string and the like
        schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]


def adjust(openapi: Mapping[str, Any], converted: dict[str, Any]) -> dict[str, Any]:
    """`converted` (the JSON schema made from the OpenAPI node `openapi`) read as Kubernetes
    reads it after dropping null fields and defaulting the properties `openapi` gives
    defaults to."""
    _adjust_defaults(_defaults(openapi), converted)
    props = converted.get("properties")
    if isinstance(props, dict):
        required = set(converted.get("required", ()))
        for name, sub in props.items():
            if name not in required:
                _allow_null(sub)
    return converted


def _adjust_defaults(defaults: Mapping[str, Any], converted: dict[str, Any]) -> None:
    if not defaults:
        return
    if "required" in converted:
        kept = [r for r in converted["required"] if r not in defaults]
        if kept:
            converted["required"] = kept
        else:
            del converted["required"]
    for key in _BRANCH_LISTS:
        if isinstance(converted.get(key), list):
            converted[key] = [_branch(b, defaults) for b in converted[key]]
    if isinstance(converted.get("not"), dict):
        converted["not"] = _branch(converted["not"], defaults)
