"""Store methods for deployments and drift reports (mixed into `bot.store.Store`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.store.engine import utc
from bot.outcomes import DEPLOY_STATES, FINAL_DEPLOY_STATES, DeployState
from bot.store.schema import Deployment, DriftReport, deployments, drift_reports


def _json(value: Any) -> Any:
    # Whatever the caller hands over (tuples, ObjKeys, enums) is stored as plain JSON.
    return json.loads(json.dumps(value, default=str))


def _state(state: DeployState) -> DeployState:
    if state not in DEPLOY_STATES:
        raise ValueError(f"deployment state must be one of {', '.join(DEPLOY_STATES)}")
    return state


class DeployRecords:
    """Deployments and drift; needs `engine`, `_write()` and `_now()` from the Store."""

    # provided by Store
    engine: Engine
    _write: Callable[[], AbstractContextManager[Connection]]
    _now: Callable[[], datetime]

    # -- deployments -----------------------------------------------------------------------
    def record_deployment(
        self,
        forge: str,
        host: str,
        repo: str,
        environment: str,
        sha: str,
        change_number: int | None = None,
        state: DeployState = DeployState.QUEUED,
        summary: str | None = None,
    ) -> int:
        """Record a deploy of `sha` to `environment` (queued or running); returns its id."""
        with self._write() as conn:
            return int(
                conn.execute(
                    deployments.insert()
                    .values(
                        forge=forge,
                        host=host,
                        repo=repo,
                        environment=environment,
                        sha=sha,
                        change_number=change_number,
                        state=_state(state),
                        summary=summary,
                        applied=[],
                        failed=[],
                        started_at=self._now(),
                    )
                    .returning(deployments.c.id)
                ).scalar_one()
            )

    def mark_deployment(
        self, deployment_id: int, state: DeployState, summary: str | None = None
    ) -> None:
        """Move a deploy to a non-final state (queued -> running) without finishing it."""
        values: dict[str, Any] = {"state": _state(state)}
        if summary is not None:
            values["summary"] = summary
        with self._write() as conn:
            conn.execute(
                deployments.update().where(deployments.c.id == deployment_id).values(**values)
            )

    def finish_deployment(
        self,
        deployment_id: int,
        state: DeployState,
        summary: str,
        applied: Sequence[Any] = (),
        failed: Sequence[Any] = (),
    ) -> None:
        """Record the outcome: a final state, a one-line summary, what was and was not applied.

        `applied`/`failed` are JSON-able lists (object keys as strings, or dicts such as
        {"key": ..., "error": ...}).
        """
        if state not in FINAL_DEPLOY_STATES:
            raise ValueError(f"a finished deployment is one of {', '.join(FINAL_DEPLOY_STATES)}")
        with self._write() as conn:
            conn.execute(
                deployments.update()
                .where(deployments.c.id == deployment_id)
                .values(
                    state=state,
                    summary=summary,
                    applied=_json(list(applied)),
                    failed=_json(list(failed)),
                    finished_at=self._now(),
                )
            )

    def deployments(
        self, limit: int = 50, repo: str | None = None, environment: str | None = None
    ) -> list[Deployment]:
        """The newest deployments first, optionally of one repo and/or one environment."""
        c = deployments.c
        query = sa.select(deployments).order_by(c.started_at.desc(), c.id.desc()).limit(limit)
        if repo is not None:
            query = query.where(c.repo == repo)
        if environment is not None:
            query = query.where(c.environment == environment)
        with self.engine.connect() as conn:
            return [_deployment(row._mapping) for row in conn.execute(query)]

    # -- drift -----------------------------------------------------------------------------
    def record_drift(
        self,
        host: str,
        repo: str,
        environment: str,
        target: str,
        objects: Sequence[Mapping[str, Any]],
        healed: bool = False,
    ) -> int:
        """Record one drift check of a target; `objects` are {key, status, changed_fields}."""
        with self._write() as conn:
            return int(
                conn.execute(
                    drift_reports.insert()
                    .values(
                        host=host,
                        repo=repo,
                        environment=environment,
                        target=target,
                        at=self._now(),
                        objects=_json([dict(o) for o in objects]),
                        healed=healed,
                    )
                    .returning(drift_reports.c.id)
                ).scalar_one()
            )

    def latest_drift(self, repo: str | None = None) -> list[DriftReport]:
        """The newest drift report of every target (optionally of one repo)."""
        c = drift_reports.c
        newest = sa.select(sa.func.max(c.id)).group_by(c.host, c.repo, c.environment, c.target)
        if repo is not None:
            newest = newest.where(c.repo == repo)
        query = (
            sa.select(drift_reports)
            .where(c.id.in_(newest))
            .order_by(c.repo, c.environment, c.target)
        )
        with self.engine.connect() as conn:
            return [_drift(row._mapping) for row in conn.execute(query)]


def _deployment(row: Any) -> Deployment:
    data = dict(row)
    data["started_at"] = utc(data["started_at"])
    data["finished_at"] = utc(data["finished_at"])
    return Deployment(**data)


def _drift(row: Any) -> DriftReport:
    data = dict(row)
    data["at"] = utc(data["at"])
    data["healed"] = bool(data["healed"])
    return DriftReport(**data)
