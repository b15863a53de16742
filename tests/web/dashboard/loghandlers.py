"""Job handlers for the logging tests, plugged in through GITOPS_BOT_JOB_HANDLERS."""

from __future__ import annotations

import logging

from bot.config import Config
from bot.queue import Handlers, JobContext
from bot.model import Event, EventKind
from bot.store import Store

log = logging.getLogger("tests.web.dashboard.job")


def logging_handlers(config: Config, store: Store) -> Handlers:
    """Every event kind is handled by writing one log line (and nothing else)."""

    def handle(event: Event, ctx: JobContext) -> None:
        log.info("handling %s attempt %d", event.kind.value, ctx.attempt)

    return {kind: handle for kind in EventKind}
