"""Test-only job handlers, plugged in through GITOPS_BOT_JOB_HANDLERS (a seam, not a patch)."""

from __future__ import annotations

import os
import time

from bot.config import Config
from bot.errors import Transient
from bot.queue import Handlers, JobContext, record_run_only
from bot.model import Event, EventKind
from bot.store import Store


def blocking_handlers(config: Config, store: Store) -> Handlers:
    """Review handlers that note each start, wait while `<data_dir>/block` exists, then finish.

    `<data_dir>/started` gets "pid attempt" per start, `<data_dir>/completed` one line per
    completed job, so a test can tell how often a job ran and finished.
    """

    def handler(event: Event, ctx: JobContext) -> None:
        data = ctx.config.data_dir
        with open(data / "started", "a") as f:
            f.write(f"{os.getpid()} {ctx.attempt}\n")
        while (data / "block").exists():
            time.sleep(0.05)
        record_run_only(event, ctx)
        with open(data / "completed", "a") as f:
            f.write(f"{os.getpid()} {ctx.delivery}\n")

    return {EventKind.REVIEW: handler, EventKind.RECHECK: handler}


class Flaky:
    """Raises the given errors in turn, then succeeds; counts its calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, event: Event, ctx: JobContext) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        record_run_only(event, ctx)


def always_transient(config: Config, store: Store) -> Handlers:
    """A review handler that always fails with a retryable error."""

    def handler(event: Event, ctx: JobContext) -> None:
        raise Transient("forge answered 502", retry_after=1)

    return {EventKind.REVIEW: handler}
