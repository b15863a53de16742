"""Compare a review with what is live: live -> head (what merging does) and base -> live
(drift that predates the change). Live state that cannot be read fails the target."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping, Sequence

from bot.diff import diff_manifests
from bot.errors import GitopsBotError
from bot.live.base import LiveState, as_stored
from bot.model import (
    DiffStatus,
    Finding,
    Manifest,
    ObjectDiff,
    Severity,
    State,
    TargetResult,
    worst,
)
from bot.pipeline.stages import run_stage, stage_error
from bot.redact import redact
from bot.repo.repo_config import Environment, RepoConfig

LiveFor = Callable[[Environment], LiveState]
log = logging.getLogger(__name__)


def _stored(manifests: Sequence[Manifest]) -> list[Manifest]:
    # Live Secrets come back with stringData folded into data: compare like with like.
    return [Manifest(as_stored(m.body), m.file, m.line) for m in manifests]


def compare_with_live(
    results: Sequence[TargetResult],
    config: RepoConfig,
    base: Mapping[str, Sequence[Manifest]],
    head: Mapping[str, Sequence[Manifest]],
    live_for: LiveFor,
) -> list[TargetResult]:
    """Each target result with its live diff and pre-existing drift (or a live finding)."""
    out: list[TargetResult] = []
    by_env: dict[str, list[TargetResult]] = {}
    for result in results:
        by_env.setdefault(result.target.environment, []).append(result)
    compared: dict[str, TargetResult] = {}
    for env_name, group in by_env.items():
        env = next((e for e in config.environments if e.name == env_name), None)
        if env is None:
            continue
        targets = [r.target for r in group]
        try:
            live = live_for(env).read(targets, desired={t.id: head.get(t.id, ()) for t in targets})
        except GitopsBotError as exc:
            reason = redact(str(exc))
            for r in group:
                finding = Finding(
                    Severity.ERROR,
                    "live",
                    f"live state unavailable: {reason}; what merging does cannot be shown",
                    file=r.target.path,
                )
                compared[r.target.id] = _failed(r, finding)
            continue
        except Exception as exc:  # noqa: BLE001 - one environment's failure fails its targets
            log.exception("reading what is live in %s crashed", env_name)
            for r in group:
                compared[r.target.id] = _failed(r, stage_error(r.target, "live", exc))
            continue
        for r in group:
            nothing: tuple[list[ObjectDiff], list[ObjectDiff]] = ([], [])
            (to_head, drift), errors = run_stage(
                r.target, "live", functools.partial(_compare, r, base, head, live), nothing
            )
            compared[r.target.id] = (
                _failed(r, *errors)
                if errors
                else dataclasses.replace(r, live_diffs=tuple(to_head), drift=tuple(drift))
            )
    for result in results:
        out.append(compared.get(result.target.id, result))
    return out


def _compare(
    r: TargetResult,
    base: Mapping[str, Sequence[Manifest]],
    head: Mapping[str, Sequence[Manifest]],
    live: Mapping[str, Sequence[Manifest]],
) -> tuple[list[ObjectDiff], list[ObjectDiff]]:
    now = _stored(live.get(r.target.id, []))
    to_head = diff_manifests(now, _stored(head.get(r.target.id, ())))
    drift = [
        d
        for d in diff_manifests(_stored(base.get(r.target.id, ())), now)
        if d.status is not DiffStatus.UNCHANGED
    ]
    return to_head, drift


def _failed(r: TargetResult, *findings: Finding) -> TargetResult:
    return dataclasses.replace(
        r, findings=(*r.findings, *findings), state=worst([r.state, State.FAILURE])
    )
