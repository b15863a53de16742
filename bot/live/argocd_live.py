"""What is live, as Argo CD sees it, for targets that Argo CD Applications define.

For such a target (its options name the Application, see bot.repo.options) the live
objects are the `liveState` of the Application's managed resources
(`GET /api/v1/applications/{name}/managed-resources`), so the review shows live -> head the
way Argo CD's own diff would. Argo CD masks Secret values: a live Secret whose values are
masked takes the rendered values for the keys both have, so only added or removed keys
show (the bot never sees Secret values through Argo CD). Other targets are read by the
environment's own reader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.live.argocd import ArgoCDClient
from bot.live.base import LiveState, LiveUnavailable
from bot.model import Manifest, Target
from bot.repo import options

MASK = re.compile(r"^\++$")


def _unmask(live: dict[str, Any], desired: Sequence[Manifest]) -> dict[str, Any]:
    data = live.get("data")
    if (
        live.get("kind") != "Secret"
        or not isinstance(data, dict)
        or not all(isinstance(v, str) and MASK.match(v) for v in data.values())
    ):
        return live
    key = (live.get("metadata") or {}).get("name"), (live.get("metadata") or {}).get("namespace")
    want = next(
        (
            m.body
            for m in desired
            if m.kind == "Secret"
            and (m.key.name, m.key.namespace or None) == (key[0], key[1] or None)
        ),
        None,
    )
    if want is None:
        return live
    mine = dict(want.get("data") or {})
    for name, value in (want.get("stringData") or {}).items():
        mine.setdefault(name, value)
    return {**live, "data": {k: mine.get(k, v) for k, v in data.items()}}


class ArgoCDLive:
    """LiveState: Argo CD's managed resources for Application targets, `fallback` (made
    only when needed) for the others (None: they have nothing live to compare with)."""

    def __init__(
        self, client: ArgoCDClient, fallback: Callable[[], LiveState] | None = None
    ) -> None:
        self.client, self.fallback = client, fallback

    def read(
        self,
        targets: Sequence[Target],
        desired: Mapping[str, Sequence[Manifest]] | None = None,
    ) -> dict[str, list[Manifest]]:
        """target.id -> live objects; LiveUnavailable when Argo CD cannot say."""
        out: dict[str, list[Manifest]] = {}
        by_app: dict[tuple[str, str], list[Target]] = {}
        rest: list[Target] = []
        for target in targets:
            app = options.of(target).get("argocd")
            if isinstance(app, dict) and app.get("application"):
                key = (str(app["application"]), str(app.get("namespace") or ""))
                by_app.setdefault(key, []).append(target)
            else:
                rest.append(target)
        for (name, namespace), group in by_app.items():
            items = self.client.managed_resources(name, namespace)
            objects = []
            for item in items:
                state = item.get("liveState")
                if not state or state == "null":
                    continue  # in the render only: not created yet
                try:
                    body = json.loads(state)
                except ValueError:
                    raise LiveUnavailable(
                        f"Argo CD application {name}: a live state is not JSON"
                    ) from None
                if isinstance(body, dict):
                    objects.append(body)
            self._share(name, group, objects, desired or {}, out)
        if rest and self.fallback is not None:
            out.update(self.fallback().read(rest, desired))
        return out

    @staticmethod
    def _share(
        name: str,
        group: list[Target],
        objects: list[dict[str, Any]],
        desired: Mapping[str, Sequence[Manifest]],
        out: dict[str, list[Manifest]],
    ) -> None:
        """One Application's live objects split among its targets (one per source): each
        gets those its render names; the first also those no render names."""
        claimed: set[int] = set()
        for target in group:
            want = desired.get(target.id, ())
            keys = {m.key for m in want}
            mine = [
                i
                for i, body in enumerate(objects)
                if Manifest(body).key in keys and i not in claimed
            ]
            if target is group[0]:
                names = {m.key for t in group for m in desired.get(t.id, ())}
                mine += [
                    i
                    for i, body in enumerate(objects)
                    if Manifest(body).key not in names and i not in mine
                ]
            claimed.update(mine)
            out[target.id] = [
                Manifest(_unmask(objects[i], want), f"argocd:{name}") for i in sorted(mine)
            ]
