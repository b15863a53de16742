"""Durable state in SQL (SQLAlchemy Core): deliveries and their job leases, review runs, audit,
deployments and drift."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.model import Event, FindingRecord
from bot.outcomes import DEPLOY_STATES, FINAL, Delivery, ReviewState
from bot.store.audit import AuditTrail
from bot.store.deploys import DeployRecords
from bot.store.engine import GROUP_SYNC, WriteLock, make_engine, utc
from bot.store.groupsync import GroupSync
from bot.store.locks import LockRecords
from bot.store.sweeps import SweepQueries
from bot.store.schema import (
    AUDIT_KINDS,
    AuditRecord,
    Deployment,
    DriftReport,
    Run,
    audit_events,
    audit_records,
    deliveries,
    delivery_key,
    deployments,
    drift_reports,
    event_from_dict,
    event_to_dict,
    metadata,
    review_runs,
)

__all__ = [
    "AUDIT_KINDS",
    "DEPLOY_STATES",
    "FINAL",
    "AuditRecord",
    "Deployment",
    "DriftReport",
    "Run",
    "Store",
    "WriteLock",
    "audit_events",
    "audit_records",
    "deliveries",
    "delivery_key",
    "deployments",
    "drift_reports",
    "event_from_dict",
    "event_to_dict",
    "make_engine",
    "metadata",
    "review_runs",
]


class Store(DeployRecords, LockRecords, AuditTrail, SweepQueries):
    """All SQL the bot runs; every method is one short transaction with plain-data arguments."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        database = engine.url.database
        # RETURNING, not rowcount: SQLAlchemy reports rowcount -1 for INSERTs on psycopg.
        self._record = self._insert(deliveries).on_conflict_do_nothing().returning(deliveries.c.id)
        self._lock = WriteLock(
            f"{database}.lock"
            if engine.dialect.name == "sqlite" and database and database != ":memory:"
            else None
        )
        grouped = engine.get_execution_options().get(GROUP_SYNC) and self._lock.path
        self._sync = GroupSync(database) if grouped and database else None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._lock:
            with self.engine.begin() as conn:
                yield conn
            number = self._sync.committed() if self._sync is not None else 0
        if self._sync is not None:
            self._sync.durable(number)  # outside the write lock: one fsync serves many

    @classmethod
    def from_url(cls, url: str, sqlite_synchronous: str = "full") -> Store:
        """A Store on a new Engine for `url` (see `make_engine`)."""
        return cls(make_engine(url, sqlite_synchronous))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def _insert(self, table: sa.Table) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def upgrade(self) -> None:
        """Apply the Alembic migrations up to head (safe to call from several processes)."""
        from bot.migrations import upgrade

        upgrade(self.engine)

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # -- deliveries and job leases -------------------------------------------------------------
    def record_delivery(self, event: Event, event_name: str) -> bool:
        """Store a delivery as a queued job; False when this delivery id is already stored."""
        row = dict(
            id=delivery_key(event.forge, event.delivery_id),
            forge=event.forge,
            event=event_name,
            action=event.action,
            kind=event.kind.value,
            host=event.host,
            repo=event.repo,
            number=event.number,
            head_sha=event.head_sha,
            received_at=self._now(),
            outcome=Delivery.QUEUED,
            event_data=event_to_dict(event),
            attempts=0,
        )
        # ON CONFLICT DO NOTHING keeps concurrent identical deliveries race-free: one row wins.
        with self._write() as conn:
            return conn.execute(self._record, row).first() is not None

    def pending_jobs(self, limit: int) -> int:
        """Deliveries queued or claimed (not final), counted up to `limit`: a walk of the
        outcome index that stops at `limit`, so its cost is bounded whatever the backlog."""
        c = deliveries.c
        pending = (
            sa.select(sa.literal(1))
            .where(c.outcome.in_((Delivery.QUEUED, Delivery.CLAIMED)))
            .limit(limit)
            .subquery()
        )
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(pending)).scalar_one())

    def forget_delivery(self, key: str) -> None:
        """Drop a queued delivery whose enqueue failed, so the forge's redelivery is accepted."""
        with self._write() as conn:
            conn.execute(
                deliveries.delete().where(
                    deliveries.c.id == key, deliveries.c.outcome == Delivery.QUEUED
                )
            )

    def requeue_final(self, key: str) -> bool:
        """Reopen a failed/dead delivery on redelivery; True for exactly one caller."""
        with self._write() as conn:
            result = conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.id == key,
                    deliveries.c.outcome.in_((Delivery.FAILED, Delivery.DEAD)),
                )
                .values(
                    outcome=Delivery.QUEUED, attempts=0, error=None, run_after=None, worker=None
                )
            )
            return result.rowcount == 1

    def claim(self, key: str, worker: str, lease_seconds: float) -> int | None:
        """Take the job for `key`; its attempt number, or None when it is not ours to run."""
        now = self.clock()
        with self._write() as conn:
            result = conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.id == key,
                    sa.or_(
                        deliveries.c.outcome == Delivery.QUEUED,
                        sa.and_(
                            deliveries.c.outcome == Delivery.CLAIMED, deliveries.c.lease_until < now
                        ),
                    ),
                )
                .values(
                    outcome=Delivery.CLAIMED,
                    worker=worker,
                    lease_until=now + lease_seconds,
                    attempts=deliveries.c.attempts + 1,
                )
            )
            if result.rowcount != 1:
                return None
            attempts = conn.execute(
                sa.select(deliveries.c.attempts).where(deliveries.c.id == key)
            ).scalar_one()
            return int(attempts)

    def defer(self, key: str, until: float) -> bool:
        """Keep a queued job waiting (not due for recovery) until `until` (epoch seconds)."""
        with self._write() as conn:
            return (
                conn.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.id == key,
                        deliveries.c.outcome == Delivery.QUEUED,
                    )
                    .values(run_after=until)
                ).rowcount
                == 1
            )

    def renew(self, key: str, worker: str, lease_seconds: float) -> bool:
        """Extend our lease; False when the claim was lost (expired and taken over)."""
        with self._write() as conn:
            return (
                conn.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.id == key,
                        deliveries.c.worker == worker,
                        deliveries.c.outcome == Delivery.CLAIMED,
                    )
                    .values(lease_until=self.clock() + lease_seconds)
                ).rowcount
                == 1
            )

    def release(
        self,
        key: str,
        worker: str,
        outcome: Delivery,
        *,
        error: str | None = None,
        run_after: float | None = None,
    ) -> bool:
        """End our claim with `outcome` (a FINAL one, or QUEUED to retry after `run_after`)."""
        with self._write() as conn:
            return (
                conn.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.id == key,
                        deliveries.c.worker == worker,
                        deliveries.c.outcome == Delivery.CLAIMED,
                    )
                    .values(outcome=outcome, error=error, run_after=run_after, lease_until=None)
                ).rowcount
                == 1
            )

    def newest_head(self, forge: str, host: str, repo: str, number: int) -> str | None:
        """The head SHA of the most recently received delivery for this change."""
        c = deliveries.c
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(c.head_sha)
                .where(
                    c.forge == forge,
                    c.host == host,
                    c.repo == repo,
                    c.number == number,
                    c.head_sha.is_not(None),
                )
                .order_by(c.received_at.desc())
                .limit(1)
            ).scalar()

    def expire_claims(self) -> list[tuple[str, dict[str, Any]]]:
        """Turn claims whose lease ran out (dead worker) back into queued jobs; returns them."""
        c = deliveries.c
        with self._write() as conn:
            rows = conn.execute(
                deliveries.update()
                .where(
                    c.outcome == Delivery.CLAIMED,
                    c.lease_until < self.clock(),
                )
                .values(outcome=Delivery.QUEUED, worker=None, lease_until=None)
                .returning(c.id, c.event_data)
            ).all()
        return [(row.id, dict(row.event_data)) for row in rows]

    def stale_queued(
        self, older_than: float, limit: int = 10000
    ) -> list[tuple[str, dict[str, Any]]]:
        """Queued jobs received more than `older_than` s ago and due (maybe never enqueued)."""
        now = self.clock()
        c = deliveries.c
        cutoff = datetime.fromtimestamp(now - older_than, timezone.utc)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.id, c.event_data)
                .where(
                    c.outcome == Delivery.QUEUED,
                    c.received_at < cutoff,
                    sa.or_(c.run_after.is_(None), c.run_after <= now),
                )
                .order_by(c.received_at)
                .limit(limit)
            ).all()
        return [(row.id, dict(row.event_data)) for row in rows]

    def delivery(self, key: str) -> dict[str, Any] | None:
        """The stored row of one delivery as a dict, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == key)).first()
        return dict(row._mapping) if row else None

    def count(self, table: str) -> int:
        """Number of rows in one of the bot's tables."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(metadata.tables[table])
                ).scalar_one()
            )

    # -- review runs -----------------------------------------------------------------------------
    def start_run(self, forge: str, host: str, repo: str, number: int, head_sha: str) -> int:
        """Open (or re-open) the run for this change at this SHA; returns its id."""
        values = dict(
            forge=forge,
            host=host,
            repo=repo,
            number=number,
            head_sha=head_sha,
            state=ReviewState.RUNNING,
            started_at=self._now(),
            attempts=1,
        )
        stmt = self._insert(review_runs).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["forge", "host", "repo", "number", "head_sha"],
            set_=dict(
                state=ReviewState.RUNNING,
                started_at=values["started_at"],
                finished_at=None,
                attempts=review_runs.c.attempts + 1,
            ),
        ).returning(review_runs.c.id)
        with self._write() as conn:
            return int(conn.execute(stmt).scalar_one())

    def finish_run(
        self,
        run_id: int,
        state: ReviewState,
        status_line: str | None = None,
        findings: Sequence[FindingRecord] | None = None,
        report: str | None = None,
        comment_id: str | None = None,
    ) -> None:
        """Record the outcome of a run."""
        with self._write() as conn:
            conn.execute(
                review_runs.update()
                .where(review_runs.c.id == run_id)
                .values(
                    state=state,
                    status_line=status_line,
                    findings=None if findings is None else list(findings),
                    report=report,
                    comment_id=comment_id,
                    finished_at=self._now(),
                )
            )

    def get_run(self, forge: str, host: str, repo: str, number: int, head_sha: str) -> Run | None:
        """The run for this change at this SHA, or None."""
        c = review_runs.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(review_runs).where(
                    c.forge == forge,
                    c.host == host,
                    c.repo == repo,
                    c.number == number,
                    c.head_sha == head_sha,
                )
            ).first()
        return _run(row._mapping) if row else None

    def latest_runs(
        self,
        limit: int = 50,
        repo: str | None = None,
        state: str | None = None,
        number: int | None = None,
    ) -> list[Run]:
        """The most recently started runs, newest first (optionally of one repo, state, change)."""
        query = (
            sa.select(review_runs)
            .order_by(review_runs.c.started_at.desc(), review_runs.c.id.desc())
            .limit(limit)
        )
        if repo is not None:
            query = query.where(review_runs.c.repo == repo)
        if state is not None:
            query = query.where(review_runs.c.state == state)
        if number is not None:
            query = query.where(review_runs.c.number == number)
        with self.engine.connect() as conn:
            return [_run(row._mapping) for row in conn.execute(query)]

    def find_run(self, host: str, repo: str, number: int, head_sha: str) -> Run | None:
        """The run of this change at this SHA on any forge of `host` (dashboard links)."""
        c = review_runs.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(review_runs)
                .where(
                    c.host == host,
                    c.repo == repo,
                    c.number == number,
                    c.head_sha == head_sha,
                )
                .order_by(c.id.desc())
                .limit(1)
            ).first()
        return _run(row._mapping) if row else None

    # -- audit -----------------------------------------------------------------------------------
    def audit(
        self,
        actor: str,
        action: str,
        repo: str | None = None,
        number: int | None = None,
        sha: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one audit event."""
        with self._write() as conn:
            conn.execute(
                audit_events.insert().values(
                    at=self._now(),
                    actor=actor,
                    action=action,
                    repo=repo,
                    number=number,
                    sha=sha,
                    detail=json.loads(json.dumps(dict(detail or {}), default=str)),
                )
            )

    def audit_log(
        self,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
        repo: str | None = None,
    ) -> list[dict[str, Any]]:
        """The newest audit events as dicts, newest first.

        Filters: exact `actor`; `repo` as stored ("github.com/acme/shop") or without its host
        ("acme/shop"); `action` matches itself and its dotted children ("review" matches
        "review.success").
        """
        c = audit_events.c
        query = sa.select(audit_events).order_by(c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(c.actor == actor)
        if repo is not None:  # "<host>/<repo>": a host has no "/" in it
            query = query.where(
                sa.or_(
                    c.repo == repo,
                    sa.and_(
                        c.repo.like("%/" + _like(repo), escape="\\"),
                        sa.not_(c.repo.like("%/%/" + _like(repo), escape="\\")),
                    ),
                )
            )
        if action is not None:
            query = query.where(
                sa.or_(c.action == action, c.action.like(_like(action) + ".%", escape="\\"))
            )
        with self.engine.connect() as conn:
            rows = conn.execute(query)
            return [dict(row._mapping) for row in rows]


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _run(row: Any) -> Run:
    data = dict(row)
    data["started_at"] = utc(data["started_at"])
    data["finished_at"] = utc(data["finished_at"])
    return Run(**data)
