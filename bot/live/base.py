"""Deploy and live-state ports, the deploy outcome, and the pure drift comparison."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.diff import diff_manifests
from bot.errors import Transient, UserError
from bot.model import DiffStatus, Manifest, ObjectDiff, ObjKey, Target


class LiveUnavailable(Transient):
    """What is live could not be read; a review must say "live state unavailable" and fail."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"live state unavailable: {reason}", retry_after=retry_after)
        self.reason = reason


class EmptyRenderRefused(UserError):
    """A target rendered no objects while objects of it are live: refused
    (docs/security.md#fail-closed)."""


class UnsafeObject(UserError):
    """A rendered object whose name, namespace, kind or group cannot be written safely."""


@dataclass(frozen=True)
class DeploySource:
    """What is deployed: the merged commit of `repo`, its change number and environment."""

    repo: str
    sha: str
    change: int | None = None
    environment: str = ""


@dataclass(frozen=True)
class DeployOutcome:
    """What a deploy did, object by object.

    `applied` are the objects written that were missing or different before, `unchanged`
    those already as rendered; `failed` pairs an object with the (redacted) reason;
    `not_attempted` were skipped after an earlier failure. `revision` is the environment
    branch commit (git, argocd) when there is one.
    """

    applied: tuple[ObjKey, ...]
    pruned: tuple[ObjKey, ...] = ()
    failed: tuple[tuple[ObjKey, str], ...] = ()
    not_attempted: tuple[ObjKey, ...] = ()
    revision: str | None = None
    unchanged: tuple[ObjKey, ...] = ()
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when every object was deployed (nothing failed, nothing skipped)."""
        return not self.failed and not self.not_attempted

    def summary(self) -> str:
        """One line, e.g. "12 objects changed, 1 pruned; 0 failed"."""
        text = (
            f"{len(self.applied)} object{'s' if len(self.applied) != 1 else ''} changed, "
            f"{len(self.pruned)} pruned; {len(self.failed)} failed"
        )
        if self.not_attempted:
            text += f", {len(self.not_attempted)} not attempted"
        return text + (f" ({self.message})" if self.message else "")


class LiveState(Protocol):
    """Reads what is live for targets."""

    def read(
        self,
        targets: Sequence[Target],
        desired: Mapping[str, Sequence[Manifest]] | None = None,
    ) -> dict[str, list[Manifest]]:
        """target.id -> objects live now; LiveUnavailable when that cannot be known.

        `desired` (target.id -> rendered objects), when given, lets an adapter also read
        objects the render names that it does not manage yet and compare like with like.
        """
        ...


class Deployer(Protocol):
    """Makes the rendered objects of targets live."""

    def deploy(
        self, rendered: Mapping[Target, Sequence[Manifest]], source: DeploySource
    ) -> DeployOutcome:
        """Deploy `rendered`; idempotent for the same source."""
        ...


def as_stored(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Secret as the API server stores it: `stringData` folded into base64 `data`."""
    string_data, data_field = body.get("stringData"), body.get("data")
    if (
        body.get("kind") != "Secret"
        or not isinstance(string_data, Mapping)
        or not isinstance(data_field, Mapping | None)
    ):
        return body  # a malformed Secret is compared as written (its schema errors say why)
    data = dict(data_field or {})
    rest = {}
    for key, value in string_data.items():
        if isinstance(value, str):
            data[key] = base64.b64encode(value.encode()).decode()
        else:
            rest[key] = value  # the API rejects it; keep it visible (masked) in the diff
    out = {k: v for k, v in body.items() if k != "stringData"}
    out["data"] = data
    if rest:
        out["stringData"] = rest
    return out


def drift(
    desired: Mapping[str, Sequence[Manifest]], live: Mapping[str, Sequence[Manifest]]
) -> dict[str, list[ObjectDiff]]:
    """Per target id: objects that differ (changed), are missing live (created) or are
    live only (deleted: a deploy would prune them). Secrets are masked; unchanged objects
    are left out, so an empty list means no drift.
    """
    out: dict[str, list[ObjectDiff]] = {}
    for target in sorted(desired.keys() | live.keys()):
        want = [Manifest(as_stored(m.body), m.file, m.line) for m in desired.get(target, ())]
        have = [Manifest(as_stored(m.body), m.file, m.line) for m in live.get(target, ())]
        out[target] = [
            d for d in diff_manifests(have, want) if d.status is not DiffStatus.UNCHANGED
        ]
    return out
