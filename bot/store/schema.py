"""The database schema (SQLAlchemy Core tables) and the plain values stored in it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.model import Event, EventKind, FindingRecord

metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(300), primary_key=True),  # "<forge>:<delivery id>"
    sa.Column("forge", sa.String(16), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),  # the forge's event header value
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # EventKind value
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("repo", sa.String(255), nullable=False),
    sa.Column("number", sa.Integer),
    sa.Column("head_sha", sa.String(64)),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    # a bot.outcomes.Delivery: queued -> claimed -> done | superseded | failed | dead
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("event_data", sa.JSON, nullable=False),  # the Event, to re-enqueue after a crash
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_until", sa.Float),  # epoch seconds; a claim expires then
    sa.Column("run_after", sa.Float),  # epoch seconds; retry not before
    sa.Column("worker", sa.String(200)),
    sa.Column("error", sa.Text),
    sa.Index("ix_deliveries_change", "forge", "host", "repo", "number", "received_at"),
    sa.Index("ix_deliveries_outcome", "outcome", "lease_until"),
)

review_runs = sa.Table(
    "review_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("forge", sa.String(16), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("repo", sa.String(255), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("head_sha", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # a bot.outcomes.ReviewState
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
    "audit_events",
    metadata,
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

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("forge", sa.String(16), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("repo", sa.String(255), nullable=False),
    sa.Column("environment", sa.String(128), nullable=False),
    sa.Column("sha", sa.String(64), nullable=False),
    sa.Column("change_number", sa.Integer),  # the merged change, when known
    sa.Column("state", sa.String(16), nullable=False),  # a bot.outcomes.DeployState
    sa.Column("summary", sa.Text),
    sa.Column("applied", sa.JSON),  # what was applied (object keys)
    sa.Column("failed", sa.JSON),  # what was not, and why
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Index("ix_deployments_env", "repo", "environment", "started_at"),
)

drift_reports = sa.Table(
    "drift_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("repo", sa.String(255), nullable=False),
    sa.Column("environment", sa.String(128), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),  # the target id, "<app>/<env>"
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("objects", sa.JSON, nullable=False),  # [{key, status, changed_fields}]
    sa.Column("healed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_drift_reports_target", "host", "repo", "environment", "target", "at"),
)


_EVENT_FIELDS = dataclasses.fields(Event)


def delivery_key(forge: str, delivery_id: str) -> str:
    """The primary key of a delivery: forge and the forge's delivery id."""
    return f"{forge}:{delivery_id}"


def event_to_dict(event: Event) -> dict[str, Any]:
    """The Event as JSON-ready plain data (what the queue and the store carry)."""
    # Every field is a scalar: a shallow copy is enough (asdict deep-copies, 10x slower).
    data = {f.name: getattr(event, f.name) for f in _EVENT_FIELDS}
    data["kind"] = event.kind.value
    return data


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """The inverse of `event_to_dict`."""
    return Event(**{**data, "kind": EventKind(data["kind"])})


@dataclass(frozen=True)
class AuditRecord:
    """One append-only audit record (see `audit_records`)."""

    id: int
    at: datetime
    kind: str
    forge: str
    host: str
    repo: str
    number: int | None
    sha: str | None
    actor: str
    state: str | None
    rule: str | None
    reason: str | None
    review_id: str | None
    reviewed_sha: str | None
    environment: str | None
    detail: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (`at` as ISO 8601)."""
        data = dataclasses.asdict(self)
        data["at"] = self.at.isoformat()
        return data


@dataclass(frozen=True)
class Run:
    """One review of one change at one head SHA."""

    id: int
    forge: str
    host: str
    repo: str
    number: int
    head_sha: str
    state: str  # a ReviewState value
    status_line: str | None
    findings: list[FindingRecord] | None  # None: the review did not finish
    report: str | None
    comment_id: str | None
    started_at: datetime
    finished_at: datetime | None
    attempts: int


@dataclass(frozen=True)
class Deployment:
    """One deploy of one merged SHA to one environment."""

    id: int
    forge: str
    host: str
    repo: str
    environment: str
    sha: str
    change_number: int | None
    state: str
    summary: str | None
    applied: Any
    failed: Any
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class DriftReport:
    """What differed between live and the protected branch for one target, at one time."""

    id: int
    host: str
    repo: str
    environment: str
    target: str
    at: datetime
    objects: Any  # [{"key": str, "status": str, "changed_fields": [str]}]
    healed: bool


# "Who let this in": structured, append-only records (bot.store.audit). The database refuses
# UPDATE and DELETE on this table (triggers made by migration 0004); the store has no such path.
AUDIT_KINDS = (
    "approval",
    "override",
    "override.withdrawn",
    "break_glass.requested",
    "break_glass.confirmed",
    "break_glass.withdrawn",
    "review",
    "deploy",
)
audit_records = sa.Table(
    "audit_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # one of AUDIT_KINDS
    sa.Column("forge", sa.String(16), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("repo", sa.String(255), nullable=False),
    sa.Column("number", sa.Integer),  # the change, when there is one
    sa.Column("sha", sa.String(64)),  # the commit the record is about
    sa.Column("actor", sa.String(255), nullable=False),  # who did it ("gitops-bot": the bot)
    sa.Column("state", sa.String(32)),  # review / deploy outcome
    sa.Column("rule", sa.String(255)),  # override: the policy rule
    sa.Column("reason", sa.Text),  # override / break-glass reason
    sa.Column("review_id", sa.String(64)),  # approval: the forge's review id
    sa.Column("reviewed_sha", sa.String(64)),  # deploy: the SHA whose review let it
    sa.Column("environment", sa.String(128)),  # deploy
    sa.Column("detail", sa.JSON),  # kind-specific extras
    sa.Index("ix_audit_records_repo_at", "host", "repo", "at"),
    sa.Index("ix_audit_records_sha", "host", "repo", "sha"),
)

locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String(400), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
