"""Liveness (`/healthz`) and readiness (`/readyz`: the database and the queue answer)."""
from __future__ import annotations

import logging

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
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
