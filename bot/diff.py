"""Per-object diffs between two renders (base or live -> head), normalised, Secrets masked."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from bot import treediff
from bot.model import DiffStatus, Manifest, ObjectDiff, ObjKey
from bot.pairing import stem
from bot.secrets import LAST_APPLIED, MASKED, is_secret, mask_secret, value_fields

# Fields the API server owns; they differ between a render and a live object for no reason.
SERVER_METADATA = (
    "creationTimestamp",
    "resourceVersion",
    "uid",
    "generation",
    "managedFields",
    "selfLink",
)
MASKED_BEFORE = "*** (before)"
MASKED_AFTER = "*** (after)"
STATUS_ORDER = {
    DiffStatus.CREATED: 0,
    DiffStatus.CHANGED: 1,
    DiffStatus.DELETED: 2,
    DiffStatus.UNCHANGED: 3,
}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# libyaml's dumper is ~10x faster and renders thousands of objects per review.
_BASE_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BASE_DUMPER):  # type: ignore[valid-type,misc]
    """Multi-line strings as `|` block scalars, so a changed line of a config file reads as
    one changed line and not as a quoted one-liner full of `\\n`."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.rstrip("\n") or (value.endswith("\n") and len(value) > 1) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_DUMPER: type[yaml.SafeDumper] = _Dumper


def _plain(value: Any, prune: bool = False) -> Any:
    """Deep copy as plain dicts and lists; with `prune`, None, {} and [] are dropped from
    mappings (renderers add or omit them)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value  # the common leaves, without the slower ABC checks below
    if kind is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            cleaned = _plain(item, prune)
            if prune and (cleaned is None or (isinstance(cleaned, (dict, list)) and not cleaned)):
                continue
            out[str(key)] = cleaned
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, prune) for item in value]
    return value


def normalize(body: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical form for comparison: server-owned fields and empty values dropped.

    Drops `status`, server metadata (`creationTimestamp`, `resourceVersion`, `uid`,
    `generation`, `managedFields`, `selfLink`), the kubectl last-applied annotation, and
    None / empty maps / empty lists inside mappings. List order is kept (it matters); key
    order is irrelevant. Keys become strings. The input is not modified.
    """
    out: dict[str, Any] = {str(k): v for k, v in body.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        meta = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
        annotations = meta.get("annotations")
        if isinstance(annotations, Mapping):
            meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        out["metadata"] = meta
    pruned: dict[str, Any] = _plain(out, prune=True)
    return pruned


def _mask_one(
    body: Mapping[str, Any] | None, other: Mapping[str, Any] | None, marker: str
) -> dict[str, Any] | None:
    if body is None:
        return None
    out: dict[str, Any] = _plain(body)
    if is_secret(body):
        out = mask_secret(out, other, marker)
    meta = out.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = MASKED
    items = body.get("items")
    if str(body.get("kind", "")).endswith("List") and isinstance(items, list):
        peers = other.get("items") if other is not None else None
        peer_items = peers if isinstance(peers, list) else []
        out["items"] = [
            _mask_one(item, peer_items[i] if i < len(peer_items) else None, marker)
            if isinstance(item, Mapping)
            else item
            for i, item in enumerate(items)
        ]
    return out


def mask_secrets(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Copies of both bodies with every Secret value replaced by a marker.

    For kind Secret, every value (`data`, `stringData` and any other field but the type and
    identifying metadata: see bot/secrets.py) becomes "***" when it is the same on both
    sides (or exists on one side only), and "*** (before)" / "*** (after)" when it changed,
    so a diff still shows *that* a key changed but never its value. The kubectl
    last-applied annotation (which embeds the whole object) is masked on every kind.
    Secrets inside `*List` items are masked too. SealedSecrets are ciphertext and are shown.
    """
    return (_mask_one(before, after, MASKED_BEFORE), _mask_one(after, before, MASKED_AFTER))


def _segment(key: str) -> str:
    return f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key, ensure_ascii=False)}]"


def _paths(a: Any, b: Any, prefix: str, out: list[str]) -> None:
    if a == b and type(a) is type(b):
        return  # equal subtrees (most of a large object) are skipped whole
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            if key not in a or key not in b:
                out.append(prefix + _segment(key))
            else:
                _paths(a[key], b[key], prefix + _segment(key), out)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            if i >= len(a) or i >= len(b):
                out.append(f"{prefix}[{i}]")
            else:
                _paths(a[i], b[i], f"{prefix}[{i}]", out)
    elif a != b:
        out.append(prefix)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Dotted paths that differ between two normalised bodies (`spec.replicas`,
    `containers[0].image`, `metadata.labels["app.kubernetes.io/name"]`).

    For Secrets, value fields report key names only (`data.password`); paths never
    contain values.
    """
    a, b = dict(before), dict(after)
    if is_secret(before) or is_secret(after):
        for section in set(value_fields(a)) | set(value_fields(b)):
            sa, sb = a.get(section, {}), b.get(section, {})
            if isinstance(sa, Mapping) and isinstance(sb, Mapping):
                # Flatten each value to one comparable token so paths stop at the key name.
                a[section], b[section] = (
                    {k: json.dumps(v, sort_keys=True, default=str) for k, v in s.items()}
                    for s in (sa, sb)
                )
    out: list[str] = []
    _paths(a, b, "", out)
    return tuple(p.lstrip(".") for p in out)


def to_yaml(body: Mapping[str, Any] | None) -> str:
    """The YAML a diff is made of: sorted keys, block style."""
    if body is None:
        return ""
    text: str = yaml.dump(
        dict(body), Dumper=_DUMPER, sort_keys=True, default_flow_style=False, allow_unicode=True
    )
    return text


def _yaml_any(value: Any) -> str:
    text: str = yaml.dump(
        value, Dumper=_DUMPER, sort_keys=True, default_flow_style=False, allow_unicode=True
    )
    return text


def unified(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, key: ObjKey, context: int = 3
) -> str:
    """Unified diff of two (already normalised and masked) bodies; '' when equal. Large
    objects get one hunk per changed subtree (bot/treediff.py): a line diff of two big
    CRDs is quadratic."""
    if before is not None and after is not None and treediff.is_large(before, after):
        if before == after:
            return ""
        head = [f"--- base/{key}", f"+++ head/{key}"]
        return "\n".join(head + treediff.hunks(before, after, _yaml_any))
    lines = difflib.unified_diff(
        to_yaml(before).splitlines(keepends=True),
        to_yaml(after).splitlines(keepends=True),
        fromfile=f"base/{key}" if before is not None else "/dev/null",
        tofile=f"head/{key}" if after is not None else "/dev/null",
        n=context,
    )
    return "".join(lines).rstrip("\n")


def _by_key(manifests: Sequence[Manifest]) -> dict[ObjKey, Manifest]:
    # A key rendered twice is a validation finding elsewhere; here the last one wins, as
    # it would with `kubectl apply`.
    return {m.key: m for m in manifests}


def _renamed(old: Manifest, new: Manifest, context: int) -> ObjectDiff:
    """One entry for a paired rename: changed (with the content diff), or unchanged when
    only a generated suffix differs and nothing else (a random or hash name)."""
    b, a = normalize(old.body), normalize(new.body)
    fields = changed_fields(b, a)
    base_stem, head_stem = stem(old.key.name, loose=True), stem(new.key.name, loose=True)
    noise = (
        base_stem is not None
        and base_stem == head_stem
        and all(f in ("metadata.name", "metadata.generateName") for f in fields)
    )
    status = DiffStatus.UNCHANGED if noise else DiffStatus.CHANGED
    text = ""
    if status is DiffStatus.CHANGED:
        mb, ma = mask_secrets(b, a)
        lines = difflib.unified_diff(
            to_yaml(mb).splitlines(keepends=True),
            to_yaml(ma).splitlines(keepends=True),
            fromfile=f"base/{old.key}",
            tofile=f"head/{new.key}",
            n=context,
        )
        text = "".join(lines).rstrip("\n")
    return ObjectDiff(
        key=new.key,
        status=status,
        diff=text,
        changed_fields=fields if status is DiffStatus.CHANGED else (),
        file=new.file,
        line=new.line,
        renamed_from=old.key,
    )


def diff_manifests(
    before: Sequence[Manifest],
    after: Sequence[Manifest],
    *,
    context: int = 3,
    renames: Mapping[ObjKey, ObjKey] | None = None,
) -> list[ObjectDiff]:
    """Match objects by ObjKey (API version ignored) and diff each pair.

    Returns one ObjectDiff per object: created / changed / deleted / unchanged (unchanged
    ones have an empty diff). `diff` is a unified diff of the normalised, Secret-masked YAML;
    `changed_fields` is filled for changed objects only. `file`/`line` come from the head
    manifest (the base one for deletions). Order: created, changed, deleted, unchanged, each
    sorted by key (group, kind, namespace, name) — stable, and grouped the way the summary
    counts them.

    `renames` (head key -> base key, from bot.pairing) turns a delete and a create into one
    entry with `renamed_from` set; without it every name counts as a different object, as
    Kubernetes sees them (deploys and live comparisons pass none).
    """
    old, new = _by_key(before), _by_key(after)
    out: list[ObjectDiff] = []
    paired = {
        h: b
        for h, b in (renames or {}).items()
        if h in new and b in old and h not in old and b not in new
    }
    for head_key, base_key in paired.items():
        out.append(_renamed(old[base_key], new[head_key], context))
    skip = set(paired) | set(paired.values())
    for key in (old.keys() | new.keys()) - skip:
        if key in old and key in new and old[key].body == new[key].body:
            out.append(
                ObjectDiff(
                    key=key,
                    status=DiffStatus.UNCHANGED,
                    diff="",
                    file=new[key].file,
                    line=new[key].line,
                )
            )
            continue  # equal bodies normalise equal: no copies needed
        b = normalize(old[key].body) if key in old else None
        a = normalize(new[key].body) if key in new else None
        where = new.get(key) or old[key]
        if b is None:
            status = DiffStatus.CREATED
        elif a is None:
            status = DiffStatus.DELETED
        else:
            status = DiffStatus.CHANGED if a != b else DiffStatus.UNCHANGED
        text, fields = "", ()  # type: tuple[str, tuple[str, ...]]
        if status is not DiffStatus.UNCHANGED:
            mb, ma = mask_secrets(b, a)
            text = unified(mb, ma, key, context)
        if status is DiffStatus.CHANGED:
            assert a is not None and b is not None
            fields = changed_fields(b, a)
        out.append(
            ObjectDiff(
                key=key,
                status=status,
                diff=text,
                changed_fields=fields,
                file=where.file,
                line=where.line,
            )
        )
    out.sort(key=lambda d: (STATUS_ORDER[d.status], d.key))
    return out
