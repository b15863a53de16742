"""The job queue (huey) and the one task that runs a delivery: claim, coalesce, handle, retry.

Leases and recovery live here too: a claimed job is renewed while its handler runs and
re-enqueued when its worker dies. What a job does is a handler (`Handlers`) given by the
caller; `bot.services` wires the configured ones.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer
from huey.storage import SqliteStorage

from bot import scratch
from bot.config import Config
from bot.errors import ConfigError, retry_after
from bot.logs import log_context
from bot.metrics import job_dead
from bot.model import Event, EventKind
from bot.outcomes import Delivery, JobRun, ReviewState
from bot.store import Store, WriteLock, event_from_dict
from bot.store.engine import utc
from bot.ticker import every

log = logging.getLogger(__name__)

TASK_NAME = "gitops-bot.job"
# A retryable failure (forge 5xx or rate limit, git fetch) is retried with backoff; the
# delivery is DEAD (dead letters, docs/security.md#case-61) once it failed MAX_ATTEMPTS
# times *and* was received RETRY_WINDOW seconds ago: a burst or an outage of minutes loses
# no event.
MAX_ATTEMPTS = 5
RETRY_WINDOW = 3600.0
MAX_BACKOFF = 900.0  # seconds


@dataclass(frozen=True)
class JobContext:
    """What a job handler gets besides the Event: which delivery, which try, and the store."""

    delivery: str  # the store key, "<forge>:<delivery id>"
    attempt: int  # 1 for the first run, 2 after a retry or a crash recovery...
    config: Config
    store: Store


JobHandler = Callable[[Event, JobContext], None]
Handlers = Mapping[EventKind, JobHandler]
HandlerFactory = Callable[[Config, Store], Handlers]


@runtime_checkable
class GivesUp(Protocol):
    """A job handler with a last word for a job that went to the dead letters (e.g. a
    review's final status, so the change is not left `pending`)."""

    def gave_up(self, event: Event, ctx: JobContext, error: BaseException) -> None:
        """Called once, after the job is released as failed or dead; best effort."""
        ...


def record_run_only(event: Event, ctx: JobContext) -> None:
    """The placeholder review: record a run row and do nothing else (the pipeline's seam)."""
    if event.number is None or event.head_sha is None:
        ctx.store.audit(
            event.sender,
            f"{event.kind.value}.unhandled",
            f"{event.host}/{event.repo}",
            event.number,
            event.head_sha,
            {"delivery": ctx.delivery},
        )
        return
    run_id = ctx.store.start_run(event.forge, event.host, event.repo, event.number, event.head_sha)
    ctx.store.finish_run(
        run_id,
        ReviewState.SKIPPED,
        status_line="review pipeline not configured (GITOPS_BOT_JOB_HANDLERS)",
    )


def audit_only(event: Event, ctx: JobContext) -> None:
    """Placeholder for deploy / close handling: leave an audit record, change nothing."""
    ctx.store.audit(
        event.sender,
        f"{event.kind.value}.unhandled",
        f"{event.host}/{event.repo}",
        event.number,
        event.head_sha or event.after,
        {"delivery": ctx.delivery, "ref": event.ref},
    )


def default_handlers(config: Config, store: Store) -> Handlers:
    """No-op handlers that only leave a trace (intake tests, dry runs of the service)."""
    return {
        EventKind.REVIEW: record_run_only,
        EventKind.RECHECK: record_run_only,
        EventKind.PUSH: audit_only,
        EventKind.CLOSED: audit_only,
        EventKind.MERGE_GROUP: audit_only,
        EventKind.COMMAND: audit_only,
    }


def make_huey(config: Config) -> Huey:
    """SqliteHuey for sqlite:/// queue URLs (the embedded default), RedisHuey for redis://."""
    url = config.queue
    if url.startswith(("redis://", "rediss://", "unix://")):
        from redis import ConnectionPool

        # Fail fast when Redis is down so the receiver answers 503 within the forge's timeout.
        pool = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        return RedisHuey("gitops-bot", results=False, connection_pool=pool)
    if not url.startswith("sqlite:///"):
        raise ConfigError("must be sqlite:///<path> or redis://...", key="GITOPS_BOT_QUEUE_URL")
    path = url.removeprefix("sqlite:///")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return SqliteHuey(
        "gitops-bot", filename=path, results=False, timeout=30, storage_class=_QueueStorage
    )


class _QueueStorage(SqliteStorage):  # type: ignore[misc]
    """huey's SQLite storage with synchronous=NORMAL.

    The store (FULL) is the durable record of every delivery; a queue entry lost to a power
    cut is re-enqueued from it when a worker starts (`Queue.recover`), so the queue file does
    not need its own fsync per enqueue.
    """

    def _create_connection(self) -> Any:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


def backoff(hint: float, attempt: int) -> float:
    """Delay before try `attempt + 1`: doubling per attempt up to a cap, never below the hint."""
    return float(max(hint, min(MAX_BACKOFF, hint * 2.0 ** (attempt - 1))))


class Queue:
    """The huey queue bound to one store and one set of handlers (built per process)."""

    def __init__(
        self, config: Config, store: Store, handlers: Handlers, huey: Huey | None = None
    ) -> None:
        self.config, self.store, self.handlers = config, store, handlers
        self.huey = huey if huey is not None else make_huey(config)
        self._task = self.huey.task(name=TASK_NAME)(self.run)
        path = getattr(self.huey.storage, "filename", None)
        self._lock = WriteLock(
            f"{path}.lock" if isinstance(self.huey.storage, SqliteStorage) else None
        )

    def enqueue(self, key: str, event_data: Mapping[str, Any], delay: float | None = None) -> None:
        """Put the job for delivery `key` on the queue (raises when the queue is down)."""
        with self._lock:  # one SQLite writer at a time, woken by the kernel (see WriteLock)
            if delay:
                self._task.schedule(args=(key, dict(event_data)), delay=delay)
            else:
                self._task(key, dict(event_data))

    def size(self) -> int:
        """Jobs waiting in the queue (raises when the queue is down)."""
        return int(self.huey.pending_count())

    def recover(self, *, at_start: bool = False) -> int:
        """Re-enqueue jobs whose worker died, and queued rows the queue does not hold."""
        # Rows can be queued in the store with no queue entry: a worker killed between
        # dequeue and claim, a queue that lost its data (Redis without persistence), an
        # enqueue that failed. Look for them at start and whenever the queue is empty, so
        # a running worker finds them too without ever duplicating a waiting backlog.
        orphans = at_start or self.size() == 0
        jobs = dict(self.store.expire_claims())
        if orphans:
            jobs.update(self.store.stale_queued(older_than=self.config.job_lease_seconds))
        for key, data in jobs.items():
            self.enqueue(key, data)
        if jobs:
            log.warning("re-enqueued %d interrupted job(s)", len(jobs))
        return len(jobs)

    def run(self, key: str, event_data: dict[str, Any]) -> Delivery | JobRun:
        """Run the job for delivery `key` once; returns the outcome it recorded."""
        worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        repo = event_data.get("repo")
        with log_context(
            delivery_id=key,
            job_id=worker,
            repository=f"{event_data.get('host')}/{repo}" if repo else None,
            change_number=event_data.get("number"),
            sha=event_data.get("head_sha"),
        ):
            return self._run(key, event_data, worker)

    def _run(self, key: str, event_data: dict[str, Any], worker: str) -> Delivery | JobRun:
        lease = self.config.job_lease_seconds
        if self._disk_full():
            return self._defer(key, event_data)
        attempt = self.store.claim(key, worker, lease)
        if attempt is None:
            return JobRun.NOT_CLAIMED  # done already, or another worker holds a live lease
        event = event_from_dict(event_data)
        if event.number is not None and event.head_sha is not None:
            newest = self.store.newest_head(event.forge, event.host, event.repo, event.number)
            if newest and newest != event.head_sha:
                self.store.release(key, worker, Delivery.SUPERSEDED)
                return Delivery.SUPERSEDED
        handler = self.handlers.get(event.kind)
        ctx = JobContext(key, attempt, self.config, self.store)
        try:
            with self._heartbeat(key, worker, lease), scratch.job_dir(self.config.data_dir, key):
                if handler is not None:
                    handler(event, ctx)
        except Exception as exc:
            outcome = self._failed(key, worker, event_data, attempt, exc)
            if outcome != JobRun.RETRY:
                self._gave_up(handler, event, ctx, exc)
            return outcome
        self.store.release(key, worker, Delivery.DONE)
        return Delivery.DONE

    def _failed(
        self, key: str, worker: str, event_data: dict[str, Any], attempt: int, exc: Exception
    ) -> Delivery | JobRun:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        hint = retry_after(exc)
        if hint is None or self._exhausted(key, attempt):
            outcome = Delivery.FAILED if hint is None else Delivery.DEAD
            log.exception("job %s %s after %d attempt(s)", key, outcome, attempt)
            self.store.release(key, worker, outcome, error=error)
            return outcome
        delay = backoff(hint, attempt)
        log.warning("job %s: %s; retry %d in %.0fs", key, error, attempt + 1, delay)
        if self.store.release(
            key, worker, Delivery.QUEUED, error=error, run_after=self.store.clock() + delay
        ):
            self.enqueue(key, event_data, delay=delay)
        return JobRun.RETRY

    @staticmethod
    def _gave_up(handler: JobHandler | None, event: Event, ctx: JobContext, exc: Exception) -> None:
        """Count a job in the dead letters and let its handler say so (never raises: the
        job's outcome is recorded already)."""
        job_dead(event.kind.value)
        if not isinstance(handler, GivesUp):
            return
        try:
            handler.gave_up(event, ctx, exc)
        except Exception:
            log.exception("job %s: could not report that it failed for good", ctx.delivery)

    def _disk_full(self) -> bool:
        return scratch.short_of_space(self.config.data_dir, self.config.data_min_free_mb)

    def _defer(self, key: str, event_data: dict[str, Any]) -> JobRun:
        """Leave a job queued, unclaimed, while the data disk is full: a review that cannot
        check out or render must neither fail the change nor use up the job's attempts."""
        wait = self.recovery_interval
        log.warning(
            "job %s waits: less than %d MB free in %s",
            key,
            self.config.data_min_free_mb,
            self.config.data_dir,
        )
        try:
            self.store.defer(key, self.store.clock() + wait)
            self.enqueue(key, event_data, delay=wait)
        except Exception:  # the queue or the store on the same full disk: recovery re-enqueues
            log.exception("job %s: cannot defer; left for the recovery pass", key)
        return JobRun.DEFERRED

    def _exhausted(self, key: str, attempt: int) -> bool:
        """Whether a job failing again goes to the dead letters (see RETRY_WINDOW)."""
        if attempt < MAX_ATTEMPTS:
            return False
        row = self.store.delivery(key)
        received = utc(row["received_at"]) if row else None
        return received is None or self.store.clock() - received.timestamp() >= RETRY_WINDOW

    @contextmanager
    def _heartbeat(self, key: str, worker: str, lease: float) -> Iterator[None]:
        # Renew the lease while the handler runs, so only a dead worker's claim ever expires.
        def beat() -> bool:
            if not self.store.renew(key, worker, lease):
                log.error("job %s: lease lost", key)
                return False
            return True

        with every(lease / 3, beat, f"lease-{key}"):
            yield

    def consumer(self, workers: int = 2) -> Consumer:
        """A huey consumer for this queue: SIGTERM drains (finishes running jobs)."""
        return self.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=False,
            graceful_signal="TERM",
            initial_delay=0.05,
            max_delay=1.0,
        )

    @property
    def recovery_interval(self) -> float:
        """Seconds between recovery passes: a dead worker's job runs again within its lease
        plus this (45 + 11.25 s with the default lease)."""
        return max(0.5, self.config.job_lease_seconds / 4)

    def tidy(self, *, at_start: bool = False) -> int:
        """One recovery pass: the folders of dead jobs removed (`bot.scratch`), interrupted
        jobs re-enqueued; returns how many were re-enqueued."""
        removed = scratch.collect(self.config.data_dir)
        if removed:
            log.warning("removed the folders of %d interrupted job(s)", removed)
        return self.recover(at_start=at_start)

    @contextmanager
    def recovering(self) -> Iterator[None]:
        """Recover at start, then keep re-enqueueing expired claims while the block runs."""
        self.tidy(at_start=True)
        with every(self.recovery_interval, self.tidy, "recovery", join=False):
            yield
