"""Alembic environment: runs on the connection handed over by `bot.migrations.upgrade`."""

from __future__ import annotations

from alembic import context

from bot.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when alembic is driven by hand
    raise RuntimeError("run migrations with `gitops-bot db upgrade`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
