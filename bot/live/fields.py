"""Pure helpers for comparing live objects with a render: projection and ownership labels.

A live object carries fields nobody rendered: API defaults (`revisionHistoryLimit`,
`clusterIP`), other controllers' additions, injected sidecars. Server-side apply records
which fields each manager set (`metadata.managedFields`, `fieldsV1`). `project` keeps only
the fields that matter for the bot: those the render sets, plus those the bot's field
manager owns (so a field dropped from the render shows as a removal). Everything else is
somebody else's business and is not drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bot.diff import normalize

FIELD_MANAGER = "gitops-bot"
MANAGED_BY = "app.kubernetes.io/managed-by"
TARGET_LABEL = "gitops-bot.dev/target"
_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


def target_label(app: str, environment: str) -> str:
    """`<app>.<env>`: the value of the ownership label (a valid label value or ValueError)."""
    value = f"{app}.{environment}"
    if not _LABEL_VALUE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid label value (63 characters at most, "
            "letters, digits, '-', '_', '.')"
        )
    return value


def with_labels(body: Mapping[str, Any], label: str) -> dict[str, Any]:
    """A copy of `body` carrying the ownership labels. The target label always wins; an
    existing managed-by (Helm charts set it) is kept, so live stays equal to the review."""
    out = dict(body)
    meta = dict(out.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    labels[TARGET_LABEL] = label
    labels.setdefault(MANAGED_BY, FIELD_MANAGER)
    meta["labels"] = labels
    out["metadata"] = meta
    return out


def without_labels(body: Mapping[str, Any], desired: Mapping[str, Any] | None) -> dict[str, Any]:
    """A live object without the labels the bot added (the render never shows them)."""
    out = dict(body)
    meta = dict(out.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    labels.pop(TARGET_LABEL, None)
    want = ((desired or {}).get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY) == FIELD_MANAGER and MANAGED_BY not in want:
        labels.pop(MANAGED_BY)
    meta["labels"] = labels
    out["metadata"] = meta
    return out


def owned_fields(body: Mapping[str, Any], manager: str = FIELD_MANAGER) -> dict[str, Any]:
    """The merged `fieldsV1` tree of `manager`'s Apply entries in `metadata.managedFields`."""
    merged: dict[str, Any] = {}
    entries = (body.get("metadata") or {}).get("managedFields") or []
    for entry in entries:
        if (
            isinstance(entry, Mapping)
            and entry.get("manager") == manager
            and entry.get("operation") == "Apply"
            and isinstance(entry.get("fieldsV1"), Mapping)
        ):
            _merge_tree(merged, entry["fieldsV1"])
    return merged


def _merge_tree(into: dict[str, Any], tree: Mapping[str, Any]) -> None:
    for key, sub in tree.items():
        node = into.setdefault(key, {})
        if isinstance(sub, Mapping):
            _merge_tree(node, sub)


def _item_key(owned: Mapping[str, Any] | None, item: Any) -> Any:
    """The owned subtree for a list item (`k:{...}` keys match on their fields)."""
    if not isinstance(owned, Mapping) or not isinstance(item, Mapping):
        return None
    for key, sub in owned.items():
        if key.startswith("k:"):
            try:
                fields = json.loads(key[2:])
            except ValueError:
                continue
            if isinstance(fields, dict) and all(item.get(k) == v for k, v in fields.items()):
                return sub
    return None


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, Mapping) and "name" in i for i in items)


def _project(live: Any, want: Any, owned: Any) -> Any:
    if owned == {} and want is None:
        return live  # owned as a whole (a leaf in fieldsV1)
    if isinstance(live, Mapping):
        if want is not None and not isinstance(want, Mapping):
            return live
        out = {}
        for key, value in live.items():
            w = want.get(key) if isinstance(want, Mapping) else None
            o = owned.get(f"f:{key}") if isinstance(owned, Mapping) else None
            if (isinstance(want, Mapping) and key in want) or o is not None:
                out[key] = _project(value, w, o)
        return out
    if isinstance(live, list) and all(isinstance(i, Mapping) for i in live):
        wants = want if isinstance(want, list) else []
        by_name = (
            {w.get("name"): w for w in wants if isinstance(w, Mapping)} if _named(wants) else None
        )
        kept = []
        for i, item in enumerate(live):
            if by_name is not None:
                w = by_name.get(item.get("name"))
            else:
                w = wants[i] if i < len(wants) else None
            o = _item_key(owned, item)
            if (
                w is None
                and o is None
                and (by_name is not None or owned is not None and want is None)
            ):
                continue  # an item someone else added (an injected sidecar, say)
            kept.append(_project(item, w, o) if w is not None or o is not None else item)
        return kept
    return live


def project(
    live: Mapping[str, Any], desired: Mapping[str, Any] | None, manager: str = FIELD_MANAGER
) -> dict[str, Any]:
    """`live` reduced to the fields the render sets or `manager` owns, normalised
    (`bot.diff.normalize`) and without the bot's labels. With neither a render nor owned
    fields (an object the bot never applied), the whole normalised object is kept.
    """
    owned = owned_fields(live, manager)
    if desired is None and not owned:
        return without_labels(normalize(live), None)
    body = _project(dict(live), dict(desired) if desired is not None else None, owned)
    meta = dict(body.get("metadata") or {})
    live_meta = live.get("metadata") or {}
    for key in ("name", "namespace"):
        if key in live_meta:
            meta[key] = live_meta[key]
    body.update(apiVersion=live.get("apiVersion"), kind=live.get("kind"), metadata=meta)
    return without_labels(normalize(body), desired)
