"""The read-only JSON API under /api/v1 (same data and access rules as the dashboard).

Every value leaves through `clean`, which runs redact() over every string.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, jsonify, request

from bot.redact import redact
from bot.store import Deployment, DriftReport, Run
from bot.web import services
from bot.web.auth import protect

bp = Blueprint("api", __name__, url_prefix="/api/v1")
protect(bp, json=True)

MAX_LIMIT = 500


def clean(value: Any) -> Any:
    """`value` as JSON-ready data with every string redacted (times as ISO 8601 UTC)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return when.astimezone(timezone.utc).isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return clean({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, Mapping):
        return {redact(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [clean(v) for v in value]
    return redact(str(value))


def review_path(host: str, repo: str, number: int, sha: str) -> str:
    """The dashboard path of one review (the same path the review comment links to)."""
    return f"/reviews/{quote(host)}/{quote(repo)}/{number}/{quote(sha)}"


def run_summary(run: Run) -> dict[str, Any]:
    """A review run without its report: what lists show."""
    data: dict[str, Any] = clean(run)
    for heavy in ("report", "findings"):
        data.pop(heavy, None)
    data["path"] = review_path(run.host, run.repo, run.number, run.head_sha)
    return data


def run_detail(run: Run) -> dict[str, Any]:
    """A review run with its findings and full Markdown report."""
    data: dict[str, Any] = clean(run)
    data["path"] = review_path(run.host, run.repo, run.number, run.head_sha)
    return data


def deployment_data(deployment: Deployment) -> dict[str, Any]:
    """One deployment; `change_path` lists the reviews of its source change, when known."""
    data: dict[str, Any] = clean(deployment)
    data["applied"] = data["applied"] or []
    data["failed"] = data["failed"] or []
    data["change_path"] = (
        f"/?repo={quote(deployment.repo)}&number={deployment.change_number}"
        if deployment.change_number is not None
        else None
    )
    return data


def drift_data(report: DriftReport) -> dict[str, Any]:
    """One drift report; `drifted` counts the objects that differ from Git."""
    data: dict[str, Any] = clean(report)
    objects = data["objects"] or []
    data["objects"] = objects
    data["drifted"] = (
        0
        if report.healed
        else sum(1 for o in objects if isinstance(o, dict) and o.get("status") != "unchanged")
    )
    return data


def arg(name: str) -> str | None:
    """A query argument, stripped; None when absent or empty."""
    value = request.args.get(name, "").strip()
    return value or None


def int_arg(name: str) -> int | None:
    """An integer query argument; 400 when it is not one."""
    value = arg(name)
    if value is None:
        return None
    if not value.isdigit():
        abort(400, description=f"{name} must be a number")
    return int(value)


def limit_arg(default: int = 50) -> int:
    """The `limit` query argument, 1..MAX_LIMIT."""
    return max(1, min(MAX_LIMIT, int_arg("limit") or default))


@bp.get("/reviews")
def reviews() -> Response:
    """Recent review runs, newest first; filters: repo, state, number, limit."""
    runs = services().store.latest_runs(
        limit_arg(), repo=arg("repo"), state=arg("state"), number=int_arg("number")
    )
    return jsonify(reviews=[run_summary(r) for r in runs])


@bp.get("/reviews/<host>/<path:repo>/<int:number>/<sha>")
def review(host: str, repo: str, number: int, sha: str) -> Response:
    """One review with its findings and full report."""
    run = services().store.find_run(host, repo, number, sha)
    if run is None:
        abort(404, description="no review of this change at this SHA")
    return jsonify(review=run_detail(run))


@bp.get("/deployments")
def deployments() -> Response:
    """Recent deployments, newest first; filters: repo, environment, limit."""
    found = services().store.deployments(
        limit_arg(), repo=arg("repo"), environment=arg("environment")
    )
    return jsonify(deployments=[deployment_data(d) for d in found])


@bp.get("/drift")
def drift() -> Response:
    """The newest drift report of every target; filter: repo."""
    return jsonify(drift=[drift_data(r) for r in services().store.latest_drift(repo=arg("repo"))])


@bp.get("/audit")
def audit() -> Response:
    """The audit trail, newest first; filters: actor, action, repo, limit."""
    events = services().store.audit_log(
        limit_arg(100), actor=arg("actor"), action=arg("action"), repo=arg("repo")
    )
    return jsonify(audit=[clean(e) for e in events])
