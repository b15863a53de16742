"""The one runner for each stage of each target (render, duplicates, validate, policy, live).

Whatever a stage raises becomes an ERROR finding of that target naming the stage, so the
other targets finish and the review still fails closed. A tool error keeps its message and
the tail of the tool's output; an unexpected exception is logged with its traceback and the
finding names only its type (its text could quote a manifest's values). `Transient` errors
propagate: the job is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from bot.errors import GitopsBotError, ToolError, Transient
from bot.model import Finding, Severity, Target

log = logging.getLogger(__name__)

STAGES = ("render", "duplicates", "validate", "policy", "live")
T = TypeVar("T")


def stage_error(target: Target, stage: str, exc: BaseException) -> Finding:
    """The ERROR finding that stands for `exc` raised in `stage` of `target`."""
    if isinstance(exc, ToolError):
        detail = exc.stderr.strip()[-500:]
        message = f"{stage} failed: {exc}" + (f": {detail}" if detail else "")
    elif isinstance(exc, GitopsBotError):
        message = f"{stage} failed: {exc}"
    else:
        message = (
            f"internal error in the {stage} stage of {target.id} "
            f"({type(exc).__name__}); nothing of this target was {stage}-checked. "
            "The bot's operators have the details in the log."
        )
    return Finding(Severity.ERROR, stage, message, file=target.path)


def run_stage(
    target: Target, stage: str, work: Callable[[], T], fallback: T
) -> tuple[T, list[Finding]]:
    """Run one stage of one target: its value and no finding, or `fallback` and the ERROR
    finding that says which stage of which target failed (Transient propagates)."""
    try:
        return work(), []
    except Transient:
        raise
    except Exception as exc:  # noqa: BLE001 - a target's failure is that target's error only
        if not isinstance(exc, GitopsBotError):
            log.exception("%s stage of %s crashed", stage, target.id)
        return fallback, [stage_error(target, stage, exc)]
