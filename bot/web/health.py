"""Liveness (`/healthz`) and readiness (`/readyz`: the database and the queue answer)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, jsonify

from bot.web import services

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and serving requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when the store and the queue both answer, else 503 naming what is down."""
    svc = services()
    checks: dict[str, str] = {}
    try:
        svc.store.ping()
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readyz: database unavailable: %s", type(exc).__name__)
        checks["database"] = "unavailable"
    try:
        svc.queue.size()
        checks["queue"] = "ok"
    except Exception as exc:
        log.warning("readyz: queue unavailable: %s", type(exc).__name__)
        checks["queue"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"status": "ok" if ready else "unavailable", "checks": checks}
    missed = _missed_deliveries() if checks["database"] == "ok" else None
    if missed:
        # Not a readiness failure (the bot works, and the sweep recovered what moved), but
        # deliveries stopped while changes moved: the webhook needs a look.
        body["detail"] = {"deliveries": missed}
    return jsonify(body), 200 if ready else 503


def _missed_deliveries() -> list[str]:
    """What the sweeps of the last two sweep intervals recovered, newest first."""
    svc = services()
    interval = svc.config.sweep_interval
    if interval <= 0:
        return []
    try:
        found = svc.store.audit_log(limit=20, action="sweep.recovered")
    except Exception:
        log.warning("readyz: cannot read the sweep's findings")
        return []
    now, seen, out = datetime.now(timezone.utc), set(), []
    for event in found:
        at = event["at"] if event["at"].tzinfo else event["at"].replace(tzinfo=timezone.utc)
        if (now - at).total_seconds() > 2 * interval or event["repo"] in seen:
            continue
        seen.add(event["repo"])
        out.append(str((event.get("detail") or {}).get("detail") or event["repo"]))
    return out
