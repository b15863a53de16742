"""PURE: pair objects a change renamed, so they read as one entry and not as a create and a
delete: kustomize's hash-suffixed generated ConfigMaps/Secrets, random names (Helm's
`randAlphaNum`, `generateName`), and plain renames of an otherwise identical object.

Only objects that exist on one side are candidates, in the same API group, kind and
namespace. What Kubernetes does is unchanged (the old object is still pruned): pairs are for
reading the diff and matching findings, never for deploying or for dangerous-change checks.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from bot.model import GENERATED_MARK, Manifest, ObjKey

# `name-<suffix>`: a kustomize content hash (10 characters of its alphabet), a Helm random
# suffix or the hash this bot gives `generateName` objects.
_SUFFIX = re.compile(r"^(?P<stem>.+?[-.~])(?P<suffix>[A-Za-z0-9]{4,16})$")
Group = tuple[str, str, str]


def stem(name: str, *, loose: bool = False) -> tuple[str, int] | None:
    """(prefix, suffix length) when the name ends in what looks generated, else None.

    A suffix needs a digit or a capital to look generated (`web-frontend` is a name); with
    `loose`, any 4-16 letters or digits after the last `-` count (for two names that
    differ only there, such as `web-test-abcde` and `web-test-qwxyz`)."""
    if GENERATED_MARK in name:
        prefix, _, digest = name.rpartition(GENERATED_MARK)
        return prefix + GENERATED_MARK, len(digest)
    match = _SUFFIX.match(name)
    if match is None:
        return None
    if not loose and not any(c.isdigit() or c.isupper() for c in match["suffix"]):
        return None
    return match["stem"], len(match["suffix"])


def _without_name(body: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(body)
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        out["metadata"] = {k: v for k, v in meta.items() if k not in ("name", "generateName")}
    return out


def pair_renames(
    before: Sequence[Manifest], after: Sequence[Manifest], normalize: Any = None
) -> dict[ObjKey, ObjKey]:
    """Head key -> base key for each pair of a base-only and a head-only object that are one
    object renamed: the same generated-name stem (one candidate on each side), or the same
    content apart from the name. `normalize` canonicalises bodies before comparing."""
    norm = normalize or (lambda body: body)
    old = {m.key: m for m in before}
    new = {m.key: m for m in after}
    gone: dict[Group, list[ObjKey]] = defaultdict(list)
    came: dict[Group, list[ObjKey]] = defaultdict(list)
    for key in sorted(old.keys() - new.keys()):
        gone[(key.group, key.kind, key.namespace)].append(key)
    for key in sorted(new.keys() - old.keys()):
        came[(key.group, key.kind, key.namespace)].append(key)
    pairs: dict[ObjKey, ObjKey] = {}
    for group in sorted(gone.keys() & came.keys()):
        bases, heads = list(gone[group]), list(came[group])
        by_stem: dict[tuple[str, int], tuple[list[ObjKey], list[ObjKey]]] = defaultdict(
            lambda: ([], [])
        )
        for key in bases:
            if (s := stem(key.name)) is not None:
                by_stem[s][0].append(key)
        for key in heads:
            if (s := stem(key.name)) is not None:
                by_stem[s][1].append(key)
        for olds, news in by_stem.values():
            if len(olds) == 1 and len(news) == 1:
                pairs[news[0]] = olds[0]
                bases.remove(olds[0])
                heads.remove(news[0])
        shapes = {key: _without_name(norm(old[key].body)) for key in bases}
        for key in heads:
            shape = _without_name(norm(new[key].body))
            match = next((b for b in bases if shapes[b] == shape), None)
            if match is not None:
                pairs[key] = match
                bases.remove(match)
    return pairs
