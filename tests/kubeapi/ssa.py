"""Server-side apply as the test server models it: field paths, owners, merge, conflicts.

A field path is a tuple of `fieldsV1` segments (`f:spec`, `f:replicas`,
`k:{"name":"web"}`). Lists whose items are all mappings with a `name` are associative
(merged by name, like containers, env, ports with names); other lists are atomic.
"""

from __future__ import annotations

import copy
import json
from typing import Any

Path = tuple[str, ...]
# Never owned through apply: identity, server-set metadata and status.
UNTRACKED_TOP = ("apiVersion", "kind", "status")
UNTRACKED_META = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
)


def _assoc(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in value)
    )


def _key(item: dict[str, Any]) -> str:
    return "k:" + json.dumps({"name": item["name"]}, separators=(",", ":"))


def flatten(value: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Leaf path -> value."""
    out: dict[Path, Any] = {}
    if isinstance(value, dict) and value:
        for k, v in value.items():
            out.update(flatten(v, prefix + (f"f:{k}",)))
    elif _assoc(value):
        for item in value:
            out.update(flatten(item, prefix + (_key(item),)))
    elif prefix:
        out[prefix] = value
    return out


def tracked(body: dict[str, Any]) -> dict[Path, Any]:
    """The leaves of an object that managers can own."""
    top = {k: v for k, v in body.items() if k not in UNTRACKED_TOP}
    meta = top.get("metadata")
    if isinstance(meta, dict):
        top["metadata"] = {k: v for k, v in meta.items() if k not in UNTRACKED_META}
    return flatten(top)


def _child(container: Any, seg: str) -> Any:
    if seg.startswith("f:") and isinstance(container, dict):
        return container.get(seg[2:])
    if seg.startswith("k:") and isinstance(container, list):
        name = json.loads(seg[2:])["name"]
        return next((i for i in container if isinstance(i, dict) and i.get("name") == name), None)
    return None


def remove(body: dict[str, Any], path: Path) -> None:
    """Delete the leaf at `path` and any mapping or list it leaves empty."""
    chain: list[Any] = [body]
    for seg in path[:-1]:
        nxt = _child(chain[-1], seg)
        if nxt is None:
            return
        chain.append(nxt)
    for depth in range(len(path) - 1, -1, -1):
        parent, seg = chain[depth], path[depth]
        if seg.startswith("f:") and isinstance(parent, dict):
            parent.pop(seg[2:], None)
        elif seg.startswith("k:") and isinstance(parent, list):
            name = json.loads(seg[2:])["name"]
            parent[:] = [i for i in parent if not (isinstance(i, dict) and i.get("name") == name)]
        if parent or depth == 0:
            return


def merge(live: Any, applied: Any) -> Any:
    """`applied` merged into `live`: mappings key by key, associative lists by name."""
    if isinstance(live, dict) and isinstance(applied, dict):
        out = dict(live)
        for k, v in applied.items():
            out[k] = merge(live[k], v) if k in live else copy.deepcopy(v)
        return out
    if _assoc(live) and _assoc(applied):
        by_name = {i["name"]: i for i in applied}
        out_list = [merge(i, by_name.pop(i["name"])) if i["name"] in by_name else i for i in live]
        return out_list + [copy.deepcopy(i) for i in applied if i["name"] in by_name]
    return copy.deepcopy(applied)


def fields_v1(paths: set[Path]) -> dict[str, Any]:
    """Nested `fieldsV1` form of a set of leaf paths."""
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for seg in path:
            node = node.setdefault(seg, {})
            if seg.startswith("k:"):
                node.setdefault(".", {})
    return root
