"""Deployments and drift reports (the deploy pipeline writes them, the dashboard shows them)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("forge", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("repo", sa.String(255), nullable=False),
        sa.Column("environment", sa.String(128), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("change_number", sa.Integer),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("applied", sa.JSON),
        sa.Column("failed", sa.JSON),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_deployments_env", "deployments", ["repo", "environment", "started_at"])
    op.create_table(
        "drift_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("repo", sa.String(255), nullable=False),
        sa.Column("environment", sa.String(128), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("objects", sa.JSON, nullable=False),
        sa.Column("healed", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_drift_reports_target", "drift_reports", ["host", "repo", "environment", "target", "at"]
    )


def downgrade() -> None:
    op.drop_table("drift_reports")
    op.drop_table("deployments")
