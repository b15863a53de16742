"""The append-only audit records (mixed into `bot.store.Store`): who let what in.

Only two operations exist, append and read: this module is the table's whole API, and the
database refuses UPDATE and DELETE on it (migration 0004), so a record once written stays.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.store.engine import utc
from bot.store.schema import AUDIT_KINDS, AuditRecord, audit_records


class AuditTrail:
    """Append and read audit records; needs `engine`, `_write()` and `_now()` from the Store."""

    # provided by Store
    engine: Engine
    _write: Callable[[], AbstractContextManager[Connection]]
    _now: Callable[[], datetime]

    def append_record(
        self,
        kind: str,
        forge: str,
        host: str,
        repo: str,
        *,
        actor: str,
        number: int | None = None,
        sha: str | None = None,
        state: str | None = None,
        rule: str | None = None,
        reason: str | None = None,
        review_id: str | None = None,
        reviewed_sha: str | None = None,
        environment: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one record; returns its id. There is no way to change or remove it."""
        if kind not in AUDIT_KINDS:
            raise ValueError(f"audit record kind must be one of {', '.join(AUDIT_KINDS)}")
        values = dict(
            at=self._now(),
            kind=kind,
            forge=forge,
            host=host,
            repo=repo,
            number=number,
            sha=sha,
            actor=actor,
            state=state,
            rule=rule,
            reason=reason,
            review_id=review_id,
            reviewed_sha=reviewed_sha,
            environment=environment,
            detail=json.loads(json.dumps(dict(detail or {}), default=str)),
        )
        with self._write() as conn:
            return int(
                conn.execute(
                    audit_records.insert().values(**values).returning(audit_records.c.id)
                ).scalar_one()
            )

    def audit_records(
        self,
        *,
        host: str | None = None,
        repo: str | None = None,
        since: datetime | None = None,
        kinds: Collection[str] | None = None,
        sha: str | None = None,
        shas: Collection[str] | None = None,
        number: int | None = None,
        limit: int = 10000,
    ) -> list[AuditRecord]:
        """Records in the order they were written, filtered.

        `repo` is "owner/name" or "host/owner/name" (then `host` is taken from it).
        """
        c = audit_records.c
        query = sa.select(audit_records).order_by(c.id).limit(limit)
        if repo is not None:
            host, repo = split_repo(repo, host)
            query = query.where(c.repo == repo)
        if host is not None:
            query = query.where(c.host == host)
        if since is not None:
            query = query.where(c.at >= since)
        if kinds is not None:
            query = query.where(c.kind.in_(list(kinds)))
        if sha is not None:
            query = query.where(sa.or_(c.sha == sha, c.reviewed_sha == sha))
        if shas is not None:
            query = query.where(c.sha.in_(list(shas)))
        if number is not None:
            query = query.where(c.number == number)
        with self.engine.connect() as conn:
            return [_record(row._mapping) for row in conn.execute(query)]


def split_repo(repo: str, host: str | None = None) -> tuple[str | None, str]:
    """("host", "owner/name") of "host/owner/name"; "owner/name" keeps the given host.

    A host has a dot or a colon in it (github.com, gitlab.example.com, 127.0.0.1:8080).
    """
    first, _, rest = repo.partition("/")
    if rest and "/" in rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return host, repo


def _record(row: Any) -> AuditRecord:
    data = dict(row)
    data["at"] = utc(data["at"])
    return AuditRecord(**data)
