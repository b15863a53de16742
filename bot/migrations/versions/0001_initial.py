"""Initial schema: deliveries (with job leases), review_runs, audit_events."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(300), primary_key=True),
        sa.Column("forge", sa.String(16), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("repo", sa.String(255), nullable=False),
        sa.Column("number", sa.Integer),
        sa.Column("head_sha", sa.String(64)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("event_data", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_until", sa.Float),
        sa.Column("run_after", sa.Float),
        sa.Column("worker", sa.String(200)),
        sa.Column("error", sa.Text),
    )
    op.create_index(
        "ix_deliveries_change", "deliveries", ["forge", "host", "repo", "number", "received_at"]
    )
    op.create_index("ix_deliveries_outcome", "deliveries", ["outcome", "lease_until"])
    op.create_table(
        "review_runs",
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
        sa.UniqueConstraint(
            "forge", "host", "repo", "number", "head_sha", name="uq_review_runs_sha"
        ),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("repo", sa.String(255)),
        sa.Column("number", sa.Integer),
        sa.Column("sha", sa.String(64)),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("review_runs")
    op.drop_table("deliveries")
