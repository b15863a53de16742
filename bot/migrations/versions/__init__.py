"""Migration scripts, oldest first (Alembic finds them by revision id)."""
