"""Append-only audit records ("who let this in"): approvals counted, overrides, break-glass,
review verdicts and deploys. UPDATE and DELETE are refused by the database itself."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SQLITE_GUARDS = [
    "CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records "
    "BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END",
    "CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records "
    "BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END",
]
_POSTGRES_GUARDS = [
    "CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_records is append-only'; END $$",
    "CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records "
    "FOR EACH ROW EXECUTE FUNCTION audit_records_append_only()",
    # TRUNCATE does not fire row triggers: a statement trigger refuses it too.
    "CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("forge", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("repo", sa.String(255), nullable=False),
        sa.Column("number", sa.Integer),
        sa.Column("sha", sa.String(64)),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("state", sa.String(32)),
        sa.Column("rule", sa.String(255)),
        sa.Column("reason", sa.Text),
        sa.Column("review_id", sa.String(64)),
        sa.Column("reviewed_sha", sa.String(64)),
        sa.Column("environment", sa.String(128)),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_audit_records_repo_at", "audit_records", ["host", "repo", "at"])
    op.create_index("ix_audit_records_sha", "audit_records", ["host", "repo", "sha"])
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRES_GUARDS}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_records")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_records_append_only()")
