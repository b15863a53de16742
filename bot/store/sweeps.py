"""Store queries of the sweep that recovers missed events (mixed into `bot.store.Store`)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.outcomes import ReviewState
from bot.store.engine import utc
from bot.store.schema import deliveries, deployments, review_runs

SWEEP_EVENT = "sweep"  # the `event` of deliveries the sweep makes (no forge sent them)


@dataclass(frozen=True)
class SeenRepository:
    """A repository the bot has received webhook deliveries for."""

    forge: str
    host: str
    repo: str
    first_delivery: datetime
    last_delivery: datetime
    event_data: dict[str, Any]  # the newest delivery's event (installation / project id)


class SweepQueries:
    """What the sweep asks the store; needs `engine` from the Store."""

    engine: Engine
    clock: Callable[[], float]

    def seen_repositories(self) -> list[SeenRepository]:
        """Every repository with a forge delivery, with its first and newest delivery."""
        c = deliveries.c
        spans = (
            sa.select(
                c.forge, c.host, c.repo, sa.func.min(c.received_at), sa.func.max(c.received_at)
            )
            .where(c.event != SWEEP_EVENT)
            .group_by(c.forge, c.host, c.repo)
            .order_by(c.forge, c.host, c.repo)
        )
        found = []
        with self.engine.connect() as conn:
            for forge, host, repo, first, last in conn.execute(spans).all():
                data = conn.execute(
                    sa.select(c.event_data)
                    .where(c.forge == forge, c.host == host, c.repo == repo, c.event != SWEEP_EVENT)
                    .order_by(c.received_at.desc())
                    .limit(1)
                ).scalar_one()
                found.append(
                    SeenRepository(
                        forge, host, repo, utc(first) or first, utc(last) or last, dict(data)
                    )
                )
        return found

    def delivered(
        self,
        forge: str,
        host: str,
        repo: str,
        head_sha: str,
        *,
        kinds: Collection[str],
        number: int | None = None,
    ) -> bool:
        """Whether any delivery (forge or sweep) of one of `kinds` was stored for this head."""
        c = deliveries.c
        query = (
            sa.select(sa.func.count())
            .select_from(deliveries)
            .where(
                c.forge == forge,
                c.host == host,
                c.repo == repo,
                c.head_sha == head_sha,
                c.kind.in_(list(kinds)),
            )
        )
        if number is not None:
            query = query.where(c.number == number)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one()) > 0

    def reviewed(self, forge: str, host: str, repo: str, number: int, head_sha: str) -> bool:
        """Whether a review of this head finished (any outcome)."""
        c = review_runs.c
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(c.id).where(
                        c.forge == forge,
                        c.host == host,
                        c.repo == repo,
                        c.number == number,
                        c.head_sha == head_sha,
                        c.state != ReviewState.RUNNING,
                    )
                ).first()
                is not None
            )

    def deployed(self, host: str, repo: str, sha: str) -> bool:
        """Whether a deploy of `sha` was recorded (in any state: it was handled)."""
        c = deployments.c
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(c.id).where(c.host == host, c.repo == repo, c.sha == sha).limit(1)
                ).first()
                is not None
            )
