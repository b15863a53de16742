"""Prometheus series the pipeline and the intake record, and the helpers that record them.

No Flask here: jobs record into these objects; `bot.web.metrics` serves them at `/metrics`
(read there for access control and multiprocess mode). No label carries a repository, user
or SHA (only forge, event, outcome, stage).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

STAGES = ("review", "render", "validate", "policy", "report", "deploy")
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

DELIVERIES = Counter(
    "gitops_bot_deliveries",
    "Webhook deliveries by forge, event and outcome.",
    ["forge", "event", "outcome"],
)
REFUSED = Counter(
    "gitops_bot_deliveries_refused",
    "Authentic deliveries the intake refused "
    "and did not record (the forge may redeliver them), by reason.",
    ["reason"],
)
REFUSED.labels("queue_full")
JOB_SECONDS = Histogram(
    "gitops_bot_job_duration_seconds", "Time spent per job stage.", ["stage"], buckets=_BUCKETS
)
POLICY_DENIALS = Counter("gitops_bot_policy_denials", "Policy denials found by reviews.")
FORGE_ERRORS = Counter(
    "gitops_bot_forge_api_errors", "Failed forge API calls by kind.", ["forge", "kind"]
)
RATE_LIMIT_WAITS = Counter(
    "gitops_bot_rate_limit_waits", "Waits for a forge rate limit.", ["forge"]
)
RATE_LIMIT_SECONDS = Counter(
    "gitops_bot_rate_limit_wait_seconds", "Seconds spent waiting for forge rate limits.", ["forge"]
)
SWEEP_RECOVERED = Counter(
    "gitops_bot_sweep_recovered",
    "Events the forge never delivered, recovered by the sweep.",
    ["kind"],
)
for _kind in ("review", "deploy"):
    SWEEP_RECOVERED.labels(_kind)
# Job kinds: bot.model.EventKind values (not imported, so this module stays dependency-free).
JOB_KINDS = ("review", "recheck", "push", "closed", "merge_group", "command")
JOBS_DEAD = Counter(
    "gitops_bot_jobs_dead",
    "Jobs that failed for good (dead letters: retries "
    "ran out, or an error that is not retried), by event kind.",
    ["kind"],
)
for _kind in JOB_KINDS:
    JOBS_DEAD.labels(_kind)
for _stage in STAGES:  # zero series from the start, so rate() works before the first job
    JOB_SECONDS.labels(_stage)


def _label(value: str | None, limit: int = 64) -> str:
    return (value or "unknown")[:limit]


def observe_stage(stage: str, seconds: float) -> None:
    """Record how long one stage of a job took (stage: one of STAGES; others count as "other")."""
    JOB_SECONDS.labels(stage if stage in STAGES else "other").observe(max(0.0, seconds))


def count_delivery(forge: str, event: str, outcome: str) -> None:
    """Count one webhook delivery (the intake calls this once per request)."""
    DELIVERIES.labels(_label(forge, 16), _label(event), _label(outcome, 32)).inc()


def delivery_refused(reason: str) -> None:
    """Count one authentic delivery refused unrecorded (`reason`: "queue_full")."""
    REFUSED.labels(_label(reason, 32)).inc()


def policy_denied(count: int = 1) -> None:
    """Count policy denials (ERROR findings of the policy check)."""
    if count > 0:
        POLICY_DENIALS.inc(count)


def forge_error(forge: str, kind: str) -> None:
    """Count one failed forge API call; `kind`: a short class such as "5xx", "timeout", "401"."""
    FORGE_ERRORS.labels(_label(forge, 16), _label(kind, 32)).inc()


def rate_limit_wait(forge: str, seconds: float) -> None:
    """Count one wait for a forge rate limit and the seconds it lasted."""
    RATE_LIMIT_WAITS.labels(_label(forge, 16)).inc()
    RATE_LIMIT_SECONDS.labels(_label(forge, 16)).inc(max(0.0, seconds))


def sweep_recovered(kind: str, count: int = 1) -> None:
    """Count events recovered by the sweep (`kind`: "review" or "deploy")."""
    if count > 0:
        SWEEP_RECOVERED.labels(kind if kind in ("review", "deploy") else "other").inc(count)


def job_dead(kind: str) -> None:
    """Count one job that went to the dead letters (`kind`: an EventKind value)."""
    JOBS_DEAD.labels(kind if kind in JOB_KINDS else "other").inc()
