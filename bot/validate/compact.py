"""Repeated sub-schemas moved into `$defs`, so a compiler generates each of them once.

CRDs repeat large blocks: an Argo CD ApplicationSet holds the Application template in every
generator of every matrix/merge level, 24 times over. fastjsonschema turns each copy into its
own code (about ten seconds to compile that kind); with the copies replaced by `$ref`s to one
definition it compiles each once. The result validates exactly what the input did.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

PREFIX = "crd."  # definition names: `crd.<hash>`, apart from Kubernetes' `io.k8s...` ones
MIN_SIZE = 400  # characters of JSON; smaller repeats cost less than the call they'd become
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "items"})
_SCHEMA_VALUES = frozenset({"not", "items", "additionalProperties"})


def _children(node: Mapping[str, Any]) -> list[Any]:
    """The sub-schemas of a schema node (not enum values or extension data)."""
    out: list[Any] = []
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out.extend(value.values())
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out.extend(value)
        elif key in _SCHEMA_VALUES and isinstance(value, Mapping):
            out.append(value)
    return [c for c in out if isinstance(c, Mapping)]


def _fingerprints(root: Mapping[str, Any]) -> tuple[dict[int, str], Counter[str], dict[str, int]]:
    """Per schema node (by id): a digest of its canonical JSON; how often each digest occurs
    and how large it is."""
    digests: dict[int, str] = {}
    counts: Counter[str] = Counter()
    sizes: dict[str, int] = {}

    def visit(node: Mapping[str, Any]) -> None:
        for child in _children(node):
            visit(child)
        text = json.dumps(node, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        digests[id(node)] = digest
        counts[digest] += 1
        sizes[digest] = len(text)

    visit(root)
    return digests, counts, sizes


def share_repeats(schema: Mapping[str, Any], min_size: int = MIN_SIZE) -> dict[str, Any]:
    """`schema` with every sub-schema that occurs twice or more (and is not tiny) replaced by
    a `$ref` to one copy under `$defs` (top-down, so the largest repeats are shared whole)."""
    digests, counts, sizes = _fingerprints(schema)
    shared = {d for d, n in counts.items() if n > 1 and sizes[d] >= min_size}
    defs: dict[str, Any] = {}

    def rewrite(node: Any, top: bool = False) -> Any:
        if not isinstance(node, Mapping):
            return node
        digest = digests.get(id(node))
        if not top and digest in shared:
            name = PREFIX + str(digest)
            if name not in defs:
                defs[name] = None  # reserve first: the order of `$defs` stays deterministic
                defs[name] = rewrite(node, top=True)
            return {"$ref": "#/$defs/" + name}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _SCHEMA_MAPS and isinstance(value, Mapping):
                out[key] = {name: rewrite(sub) for name, sub in value.items()}
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                out[key] = [rewrite(sub) for sub in value]
            elif key in _SCHEMA_VALUES and isinstance(value, Mapping):
                out[key] = rewrite(value)
            else:
                out[key] = value
        return out

    result: dict[str, Any] = rewrite(schema, top=True)
    if defs:
        result["$defs"] = {**result.get("$defs", {}), **defs}
    return result
