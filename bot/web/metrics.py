"""The `/metrics` endpoint: every `gitops_bot_*` series (recorded through `bot.metrics`).

Access: `/metrics` is open, like the health endpoints, because Prometheus scrapes without a
login and no label carries a repository, user or SHA (only forge, event, outcome, stage,
environment). Set GITOPS_BOT_METRICS_TOKEN to require `Authorization: Bearer <token>`.

Processes: with gunicorn every worker process counts on its own. Start the service (web and
worker on the same machine) with PROMETHEUS_MULTIPROC_DIR pointing at an empty directory
that all of them share, and prometheus_client writes the counters there; `/metrics` then adds
them up over every process. Without it, one process-local registry is used (`gitops-bot
serve`). prometheus_client reads that variable when it is first imported, so it must be in
the environment before the process starts; wipe the directory at each deploy of the bot.
Queue depth, drift objects and deploys are read from the queue and the store at scrape
time, so they agree whichever process answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot import metrics as _series  # noqa: F401  (every series exists before the first scrape)
from bot.outcomes import FINAL_DEPLOY_STATES
from bot.services import Services
from bot.store import deployments
from bot.web import services
from bot.web.auth import token_matches

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)

DEPLOY_OUTCOMES = FINAL_DEPLOY_STATES


class _ReadAtScrape(Collector):
    """Queue depth, drift objects and finished deploys, read when Prometheus scrapes."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily("gitops_bot_queue_depth", "Jobs waiting in the queue.")
        try:
            depth.add_metric([], float(self.svc.queue.size()))
        except Exception as exc:
            log.warning("metrics: queue unavailable: %s", type(exc).__name__)
        yield depth
        drift = GaugeMetricFamily(
            "gitops_bot_drift_objects",
            "Objects that differ from Git in the latest drift reports.",
            labels=["environment"],
        )
        deploys = CounterMetricFamily(
            "gitops_bot_deploys", "Finished deploys by outcome.", labels=["outcome"]
        )
        try:
            per_env = self._drift()
            finished = self._deploys()
        except Exception as exc:
            log.warning("metrics: store unavailable: %s", type(exc).__name__)
        else:
            for env, count in sorted(per_env.items()):
                drift.add_metric([env], count)
            for outcome in DEPLOY_OUTCOMES:
                deploys.add_metric([outcome], finished.get(outcome, 0))
        yield drift
        yield deploys

    def _drift(self) -> dict[str, float]:
        per_env: dict[str, float] = {}
        for report in self.svc.store.latest_drift():
            drifted = (
                []
                if report.healed
                else [o for o in report.objects or () if o.get("status") != "unchanged"]
            )
            per_env[report.environment] = per_env.get(report.environment, 0) + len(drifted)
        return per_env

    def _deploys(self) -> dict[str, float]:
        c = deployments.c
        query = (
            sa.select(c.state, sa.func.count())
            .where(c.state.in_(DEPLOY_OUTCOMES))
            .group_by(c.state)
        )
        with self.svc.store.engine.connect() as conn:
            return {state: float(n) for state, n in conn.execute(query)}


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def multiprocess_mode() -> bool:
    """Whether prometheus_client writes to PROMETHEUS_MULTIPROC_DIR (decided at its import)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def scrape_registry(svc: Services) -> CollectorRegistry:
    """A registry for one scrape: this process's metrics (or every process's, in multiprocess
    mode) plus the values read from the queue and the store."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(_ReadAtScrape(svc))
    return registry


def exposition(svc: Services) -> bytes:
    """The Prometheus text exposition (format 0.0.4) of every series."""
    return generate_latest(scrape_registry(svc))


@bp.get("/metrics")
def metrics() -> Any:
    """The Prometheus scrape endpoint (open unless GITOPS_BOT_METRICS_TOKEN is set)."""
    svc = services()
    token = svc.config.metrics_token
    if token is not None and not token_matches(request, token):
        return Response(
            "metrics token required\n",
            401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="gitops-bot metrics"'},
        )
    # Prometheus says which formats it takes (text 0.0.4, 1.0.0, OpenMetrics) in Accept.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(scrape_registry(svc)), content_type=content_type)
