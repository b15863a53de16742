"""The last word of a review whose job went to the dead letters: the change gets a final
`error` status saying what kind of trouble stopped the review and how to try again, so it is
never left `pending` (docs/security.md#case-61, docs/security.md#case-90).

Best effort: the forge may be the very thing that failed; the queue logs a failure here and
the job's outcome stays recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot import markers
from bot.errors import ConfigError, DiskFull, ToolError, Transient
from bot.forges.base import REVIEW_CONTEXT, Forge, ForgeError
from bot.model import Change, Event, State
from bot.outcomes import ReviewState
from bot.queue import JobContext, JobHandler
from bot.redact import redact
from bot.store import Store

log = logging.getLogger(__name__)

# (exception class, what the status says), first match wins: a class of trouble, never the
# exception's own text (it may quote a URL, a token or a path).
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (DiskFull, "the bot's disk is full"),
    (Transient, "the forge or a service kept failing"),
    (ForgeError, "the forge refused a request"),
    (ConfigError, "the bot's configuration is invalid"),
    (ToolError, "a tool failed"),
)


def dead_reason(error: BaseException) -> str:
    """The class of trouble that made a job fail for good, in a few plain words."""
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "internal error"


def dead_description(error: BaseException) -> str:
    """The final status description of a review that could not finish."""
    return (
        f"gitops-bot could not finish the review: {dead_reason(error)}; "
        f"comment {markers.RECHECK} to try again"
    )


class DeadReview:
    """Sets the final `error` status of a change whose review job failed for good."""

    def __init__(self, forge_for: Callable[[Event], Forge]) -> None:
        self.forge_for = forge_for

    def __call__(self, event: Event, error: BaseException) -> None:
        if event.number is None:
            return
        forge = self.forge_for(event)
        change: Change | None
        try:
            change = forge.get_change(event.repo, event.number)
        except Exception:  # the forge may be what failed: the job's own head will do
            log.warning(
                "could not read %s#%s to report its failed review",
                event.repo,
                event.number,
                exc_info=True,
            )
            change = None
        if change is not None and change.state != "open":
            return  # closed or merged: nothing waits on this status any more
        # the head the job was for (a newer head has its own job); a recheck names none
        sha = event.head_sha or (change.head_sha if change is not None else None)
        if sha is None:
            return
        forge.set_status(
            event.repo, sha, REVIEW_CONTEXT, State.ERROR, redact(dead_description(error))
        )


@dataclass(frozen=True)
class WithLastWord:
    """A job handler (`handle`) whose job, once in the dead letters, says `last_word`
    (the queue's `GivesUp` hook)."""

    handle: JobHandler
    last_word: Callable[[Event, BaseException], None]

    def __call__(self, event: Event, ctx: JobContext) -> None:
        self.handle(event, ctx)

    def gave_up(self, event: Event, ctx: JobContext, error: BaseException) -> None:
        """Say the last word (the queue catches and logs what this raises)."""
        self.last_word(event, error)


def finish_dead_run(store: Store, event: Event, error: BaseException) -> None:
    """The review run the dead job left `running` ends as `error` (the dashboard stops
    showing it as running; a redelivery or recheck still reviews that head again)."""
    if event.number is None or not event.head_sha:
        return
    try:
        run = store.get_run(event.forge, event.host, event.repo, event.number, event.head_sha)
        if run is not None and run.state == ReviewState.RUNNING:
            store.finish_run(run.id, ReviewState.ERROR, redact(dead_description(error)))
    except Exception:  # the store may be what failed; the status still gets said
        log.warning(
            "could not finish the review run of %s#%s", event.repo, event.number, exc_info=True
        )
