"""What in an object is a secret value: pure rules shared by diffs, messages and deploys.

For a Secret every field is a value except `apiVersion`, `kind`, `type`, `immutable` and
the object's identifying metadata, whatever its shape: `data`, `stringData`, a misspelled
`stringdata`, lists, numbers, a scalar where a map belongs. Values are masked in diffs and
never quoted in any message (docs/security.md#secrets-in-outputs).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from bot.model import Finding, Manifest
from bot.redact import redact

MASKED = "***"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Top-level fields of a Secret that are not values.
PLAIN_FIELDS = frozenset({"apiVersion", "kind", "type", "immutable", "metadata"})
# Metadata that identifies the object and is shown; any other metadata field is a value.
PLAIN_METADATA = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "managedFields",
        "selfLink",
    }
)


def is_secret(body: Mapping[str, Any] | None) -> bool:
    """Whether `body` is a Secret (any apiVersion and any case of the kind: a typo must not
    switch masking off)."""
    return body is not None and str(body.get("kind", "")).lower() == "secret"


def value_fields(body: Mapping[str, Any]) -> list[str]:
    """The top-level fields of a Secret that hold values (everything but PLAIN_FIELDS)."""
    return [str(k) for k in body if str(k) not in PLAIN_FIELDS]


def _mask(mine: Any, theirs: Any, changed: str) -> Any:
    if isinstance(mine, Mapping):
        peer = theirs if isinstance(theirs, Mapping) else {}
        return {
            str(k): _mask(v, peer.get(k), changed) if k in peer else _mask(v, None, changed)
            for k, v in mine.items()
        }
    if isinstance(mine, list):
        peer_list = theirs if isinstance(theirs, list) else []
        return [
            _mask(v, peer_list[i] if i < len(peer_list) else None, changed)
            for i, v in enumerate(mine)
        ]
    return changed if theirs is not None and theirs != mine else MASKED


def mask_secret(
    body: Mapping[str, Any], other: Mapping[str, Any] | None, changed_marker: str
) -> dict[str, Any]:
    """A copy of a Secret with every value replaced: `changed_marker` where `other` (the
    other side of a diff) has a different value at the same place, `***` elsewhere. Keys
    stay visible, so a diff still says *which* key changed."""
    peer = other if other is not None and is_secret(other) else {}
    out: dict[str, Any] = {}
    for key, value in body.items():
        name = str(key)
        if name == "metadata" and isinstance(value, Mapping):
            found = peer.get("metadata")
            peer_meta: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
            out[name] = {
                str(k): (
                    v if str(k) in PLAIN_METADATA else _mask(v, peer_meta.get(k), changed_marker)
                )
                for k, v in value.items()
            }
        elif name in PLAIN_FIELDS:
            out[name] = value
        else:
            out[name] = _mask(value, peer.get(key) if key in peer else None, changed_marker)
    return out


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _secret_bodies(body: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if is_secret(body):
        yield body
    items = body.get("items")
    if str(body.get("kind", "")).endswith("List") and isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping):
                yield from _secret_bodies(item)


def secret_values(manifests: Sequence[Manifest]) -> set[str]:
    """Every secret value in a render, as text: each leaf of every value field of every
    Secret (in `*List` items too), and the decoded form of base64 values. The
    last-applied annotation of any object is a value too (it embeds the whole object)."""
    out: set[str] = set()
    for manifest in manifests:
        meta = manifest.body.get("metadata")
        annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
        if isinstance(annotations, Mapping) and isinstance(annotations.get(LAST_APPLIED), str):
            out.add(annotations[LAST_APPLIED])
        for body in _secret_bodies(manifest.body):
            for field in value_fields(body):
                for leaf in _leaves(body[field]):
                    out.add(leaf)
                    out.update(_decoded(leaf))
            meta = body.get("metadata")
            if isinstance(meta, Mapping):
                for key, value in meta.items():
                    if str(key) not in PLAIN_METADATA:
                        out.update(_leaves(value))
    return {v for v in out if v.strip()}


def _decoded(text: str) -> list[str]:
    try:
        return [base64.b64decode(text, validate=True).decode()]
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return []


def hide_values(findings: Iterable[Finding], values: Iterable[str]) -> list[Finding]:
    """`findings` with every secret value (any spelling) masked in their messages; applied
    after every formatter, so a message that quotes a value cannot carry it out."""
    known = tuple(values)
    if not known:
        return list(findings)
    return [
        dataclasses.replace(f, message=redact(f.message, known=known)) if f.message else f
        for f in findings
    ]
