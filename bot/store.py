"""Durable state in SQL (SQLAlchemy Core): deliveries and their job leases, review runs, audit."""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.model import Event, EventKind

metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.String(300), primary_key=True),   # "<forge>:<delivery id>"
    sa.Column("forge", sa.String(16), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),   # the forge's event header value
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),    # EventKind value
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("repo", sa.String(255), nullable=False),
    sa.Column("number", sa.Integer),
    sa.Column("head_sha", sa.String(64)),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    # queued -> claimed -> done | superseded | failed | dead (queued again on retry)
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("event_data", sa.JSON, nullable=False),    # the Event, to re-enqueue after a crash
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_until", sa.Float),                  # epoch seconds; a claim expires then
    sa.Column("run_after", sa.Float),                    # epoch seconds; retry not before
    sa.Column("worker", sa.String(200)),
    sa.Column("error", sa.Text),
    sa.Index("ix_deliveries_change", "forge", "host", "repo", "number", "received_at"),
    sa.Index("ix_deliveries_outcome", "outcome", "lease_until"),
)

review_runs = sa.Table(
    "review_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("forge", sa.String(16), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("repo", sa.String(255), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("head_sha", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("status_line", sa.Text),
    sa.Column("findings", sa.JSON),
    sa.Column("report", sa.Text),
    sa.Column("comment_id", sa.String(64)),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("forge", "host", "repo", "number", "head_sha", name="uq_review_runs_sha"),
)

audit_events = sa.Table(
    "audit_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("repo", sa.String(255)),
    sa.Column("number", sa.Integer),
    sa.Column("sha", sa.String(64)),
    sa.Column("detail", sa.JSON),
    sa.Index("ix_audit_events_at", "at"),
)

# Terminal outcomes: nothing will run this delivery again unless the forge redelivers it.
FINAL = ("done", "superseded", "failed", "dead")


def delivery_key(forge: str, delivery_id: str) -> str:
    """The primary key of a delivery: forge and the forge's delivery id."""
    return f"{forge}:{delivery_id}"


def event_to_dict(event: Event) -> dict[str, Any]:
    """The Event as JSON-ready plain data (what the queue and the store carry)."""
    data = dataclasses.asdict(event)
    data["kind"] = event.kind.value
    return data


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """The inverse of `event_to_dict`."""
    return Event(**{**data, "kind": EventKind(data["kind"])})


@dataclass(frozen=True)
class Run:
    """One review of one change at one head SHA."""

    id: int
    forge: str
    host: str
    repo: str
    number: int
    head_sha: str
    state: str
    status_line: str | None
    findings: Any
    report: str | None
    comment_id: str | None
    started_at: datetime
    finished_at: datetime | None
    attempts: int


def make_engine(url: str) -> Engine:
    """An Engine for `url`: SQLite in WAL mode with a busy timeout, or PostgreSQL via psycopg 3."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    # FULL: a 202 means the row survived even a power cut, not only a process crash.
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class Store:
    """All SQL the bot runs; every method is one short transaction with plain-data arguments."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    @classmethod
    def from_url(cls, url: str) -> Store:
        """A Store on a new Engine for `url`."""
        return cls(make_engine(url))

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
            id=delivery_key(event.forge, event.delivery_id), forge=event.forge, event=event_name,
            action=event.action, kind=event.kind.value, host=event.host, repo=event.repo,
            number=event.number, head_sha=event.head_sha, received_at=self._now(),
            outcome="queued", event_data=event_to_dict(event), attempts=0)
        # ON CONFLICT DO NOTHING keeps concurrent identical deliveries race-free: one row wins.
        stmt = self._insert(deliveries).values(**row).on_conflict_do_nothing()
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def forget_delivery(self, key: str) -> None:
        """Drop a queued delivery whose enqueue failed, so the forge's redelivery is accepted."""
        with self.engine.begin() as conn:
            conn.execute(deliveries.delete().where(
                deliveries.c.id == key, deliveries.c.outcome == "queued"))

    def requeue_final(self, key: str) -> bool:
        """Reopen a failed/dead delivery on redelivery; True for exactly one caller."""
        with self.engine.begin() as conn:
            result = conn.execute(deliveries.update().where(
                deliveries.c.id == key, deliveries.c.outcome.in_(("failed", "dead"))
            ).values(outcome="queued", attempts=0, error=None, run_after=None, worker=None))
            return result.rowcount == 1

    def claim(self, key: str, worker: str, lease_seconds: float) -> int | None:
        """Take the job for `key`; its attempt number, or None when it is not ours to run."""
        now = self.clock()
        with self.engine.begin() as conn:
            result = conn.execute(deliveries.update().where(
                deliveries.c.id == key,
                sa.or_(deliveries.c.outcome == "queued",
                       sa.and_(deliveries.c.outcome == "claimed",
                               deliveries.c.lease_until < now)),
            ).values(outcome="claimed", worker=worker, lease_until=now + lease_seconds,
                     attempts=deliveries.c.attempts + 1))
            if result.rowcount != 1:
                return None
            attempts = conn.execute(sa.select(deliveries.c.attempts).where(
                deliveries.c.id == key)).scalar_one()
            return int(attempts)

    def renew(self, key: str, worker: str, lease_seconds: float) -> bool:
        """Extend our lease; False when the claim was lost (expired and taken over)."""
        with self.engine.begin() as conn:
            return conn.execute(deliveries.update().where(
                deliveries.c.id == key, deliveries.c.worker == worker,
                deliveries.c.outcome == "claimed",
            ).values(lease_until=self.clock() + lease_seconds)).rowcount == 1

    def release(self, key: str, worker: str, outcome: str, *, error: str | None = None,
                run_after: float | None = None) -> bool:
        """End our claim with `outcome` (a final one, or "queued" to retry after `run_after`)."""
        with self.engine.begin() as conn:
            return conn.execute(deliveries.update().where(
                deliveries.c.id == key, deliveries.c.worker == worker,
                deliveries.c.outcome == "claimed",
            ).values(outcome=outcome, error=error, run_after=run_after, lease_until=None)
            ).rowcount == 1

    def newest_head(self, forge: str, host: str, repo: str, number: int) -> str | None:
        """The head SHA of the most recently received delivery for this change."""
        c = deliveries.c
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(c.head_sha).where(c.forge == forge, c.host == host, c.repo == repo,
                                            c.number == number, c.head_sha.is_not(None))
                .order_by(c.received_at.desc()).limit(1)).scalar()

    def expire_claims(self) -> list[tuple[str, dict[str, Any]]]:
        """Turn claims whose lease ran out (dead worker) back into queued jobs; returns them."""
        c = deliveries.c
        with self.engine.begin() as conn:
            rows = conn.execute(deliveries.update().where(
                c.outcome == "claimed", c.lease_until < self.clock(),
            ).values(outcome="queued", worker=None, lease_until=None)
            .returning(c.id, c.event_data)).all()
        return [(row.id, dict(row.event_data)) for row in rows]

    def stale_queued(self, older_than: float,
                     limit: int = 10000) -> list[tuple[str, dict[str, Any]]]:
        """Queued jobs received more than `older_than` s ago and due (maybe never enqueued)."""
        now = self.clock()
        c = deliveries.c
        cutoff = datetime.fromtimestamp(now - older_than, timezone.utc)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.id, c.event_data).where(
                c.outcome == "queued", c.received_at < cutoff,
                sa.or_(c.run_after.is_(None), c.run_after <= now),
            ).order_by(c.received_at).limit(limit)).all()
        return [(row.id, dict(row.event_data)) for row in rows]

    def delivery(self, key: str) -> dict[str, Any] | None:
        """The stored row of one delivery as a dict, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == key)).first()
        return dict(row._mapping) if row else None

    def count(self, table: str) -> int:
        """Number of rows in one of the bot's tables."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(
                metadata.tables[table])).scalar_one())

    # -- review runs -----------------------------------------------------------------------------
    def start_run(self, forge: str, host: str, repo: str, number: int, head_sha: str) -> int:
        """Open (or re-open) the run for this change at this SHA; returns its id."""
        values = dict(forge=forge, host=host, repo=repo, number=number, head_sha=head_sha,
                      state="running", started_at=self._now(), attempts=1)
        stmt = self._insert(review_runs).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["forge", "host", "repo", "number", "head_sha"],
            set_=dict(state="running", started_at=values["started_at"], finished_at=None,
                      attempts=review_runs.c.attempts + 1),
        ).returning(review_runs.c.id)
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())

    def finish_run(self, run_id: int, state: str, status_line: str | None = None,
                   findings: Any = None, report: str | None = None,
                   comment_id: str | None = None) -> None:
        """Record the outcome of a run."""
        with self.engine.begin() as conn:
            conn.execute(review_runs.update().where(review_runs.c.id == run_id).values(
                state=state, status_line=status_line, findings=findings, report=report,
                comment_id=comment_id, finished_at=self._now()))

    def get_run(self, forge: str, host: str, repo: str, number: int, head_sha: str) -> Run | None:
        """The run for this change at this SHA, or None."""
        c = review_runs.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(review_runs).where(
                c.forge == forge, c.host == host, c.repo == repo, c.number == number,
                c.head_sha == head_sha)).first()
        return _run(row._mapping) if row else None

    def latest_runs(self, limit: int = 50, repo: str | None = None) -> list[Run]:
        """The most recently started runs, newest first (optionally of one repo)."""
        query = sa.select(review_runs).order_by(review_runs.c.started_at.desc(),
                                                review_runs.c.id.desc()).limit(limit)
        if repo is not None:
            query = query.where(review_runs.c.repo == repo)
        with self.engine.connect() as conn:
            return [_run(row._mapping) for row in conn.execute(query)]

    # -- audit -----------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, repo: str | None = None, number: int | None = None,
              sha: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        """Append one audit event."""
        with self.engine.begin() as conn:
            conn.execute(audit_events.insert().values(
                at=self._now(), actor=actor, action=action, repo=repo, number=number, sha=sha,
                detail=json.loads(json.dumps(dict(detail or {}), default=str))))

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit events as dicts, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_events).order_by(
                audit_events.c.id.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]


def _run(row: Any) -> Run:
    data = dict(row)
    data["started_at"] = _utc(data["started_at"])
    data["finished_at"] = _utc(data["finished_at"])
    return Run(**data)
