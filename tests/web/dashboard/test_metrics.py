"""/metrics: every gitops_bot series after some traffic; gunicorn-style multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.config import Config
from bot.metrics import forge_error, observe_stage, policy_denied, rate_limit_wait
from bot.outcomes import DeployState
from tests.web.dashboard.conftest import Running, make_config
from tests.web.hookclient import fixture, github_headers, post

ROOT = Path(__file__).resolve().parents[3]
SERIES = (
    "gitops_bot_deliveries_total",
    "gitops_bot_queue_depth",
    "gitops_bot_job_duration_seconds_bucket",
    "gitops_bot_job_duration_seconds_sum",
    "gitops_bot_job_duration_seconds_count",
    "gitops_bot_policy_denials_total",
    "gitops_bot_deploys_total",
    "gitops_bot_drift_objects",
    "gitops_bot_forge_api_errors_total",
    "gitops_bot_rate_limit_waits_total",
    "gitops_bot_rate_limit_wait_seconds_total",
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(bot: Running) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, headers, body = bot.get("/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(body)


def test_every_series_after_some_traffic(
    tmp_path: Path, serve_app: Callable[[Config], Running]
) -> None:
    bot = serve_app(make_config(tmp_path / "data"))
    before = scrape(bot)
    opened = fixture("github/pull_request/opened.payload.json")
    labeled = fixture("github/pull_request/labeled.payload.json")
    delivery = str(uuid.uuid4())
    sent = [
        post(bot.url, "/hooks/github", opened, github_headers("pull_request", opened, delivery)),
        post(bot.url, "/hooks/github", opened, github_headers("pull_request", opened, delivery)),
        post(bot.url, "/hooks/github", labeled, github_headers("pull_request", labeled)),
        post(
            bot.url,
            "/hooks/github",
            opened,
            github_headers("pull_request", opened, secret="wrong-secret"),
        ),
        post(bot.url, "/hooks/bitbucket", opened, github_headers("whatever", opened)),
    ]
    assert [status for status, _ in sent] == [202, 200, 200, 401, 404]
    store = bot.services.store
    deploy = store.record_deployment("github", "github.com", "acme/shop", "staging", "a" * 40, 1)
    store.finish_deployment(deploy, DeployState.FAILED, "apply failed", [], ["Deployment/web/web"])
    store.record_drift(
        "github.com",
        "acme/shop",
        "staging",
        "web/staging",
        [
            {"key": "Deployment/web/web", "status": "changed", "changed_fields": ["spec"]},
            {"key": "Service/web/web", "status": "unchanged", "changed_fields": []},
        ],
    )
    observe_stage("deploy", 1.5)
    observe_stage("not-a-stage", 0.1)
    policy_denied(2)
    forge_error("github", "5xx")
    rate_limit_wait("github", 2.5)

    after = scrape(bot)
    names = {name for name, _ in after}
    assert set(SERIES) <= names, set(SERIES) - names

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    deliveries = "gitops_bot_deliveries_total"
    assert grew(deliveries, forge="github", event="pull_request", outcome="queued") == 1
    assert grew(deliveries, forge="github", event="pull_request", outcome="duplicate") == 1
    assert grew(deliveries, forge="github", event="pull_request", outcome="ignored") == 1
    # Unsigned or unknown senders never choose label values.
    assert grew(deliveries, forge="github", event="unknown", outcome="unauthorized") == 1
    assert grew(deliveries, forge="unknown", event="unknown", outcome="not_configured") == 1
    assert value(after, "gitops_bot_queue_depth") == 1
    assert value(after, "gitops_bot_deploys_total", outcome="failed") == 1
    assert value(after, "gitops_bot_deploys_total", outcome="succeeded") == 0
    assert value(after, "gitops_bot_drift_objects", environment="staging") == 1
    assert grew("gitops_bot_job_duration_seconds_count", stage="deploy") == 1
    assert grew("gitops_bot_job_duration_seconds_count", stage="other") == 1
    assert value(after, "gitops_bot_job_duration_seconds_count", stage="review") >= 0
    assert grew("gitops_bot_policy_denials_total") == 2
    assert grew("gitops_bot_forge_api_errors_total", forge="github", kind="5xx") == 1
    assert grew("gitops_bot_rate_limit_waits_total", forge="github") == 1
    assert grew("gitops_bot_rate_limit_wait_seconds_total", forge="github") == 2.5


def test_prometheus_chooses_the_format(site: Running) -> None:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(site.url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    conn.request(
        "GET",
        "/metrics",
        headers={
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        },
    )
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    assert resp.status == 200
    assert (resp.getheader("Content-Type") or "").startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n") and "gitops_bot_deliveries" in body


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from bot.config import Config
    from bot.services import Services
    from bot import metrics
    from bot.web.metrics import exposition, multiprocess_mode
    assert multiprocess_mode()
    metrics.count_delivery("github", "push", "queued")
    metrics.observe_stage("deploy", 2.0)
    if sys.argv[1] == "scrape":
        config = Config(data_dir=Path(sys.argv[2]), job_handlers="bot.queue:default_handlers")
        sys.stdout.write(exposition(Services.build(config)).decode())
""")


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}

    def child(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    child("count")
    child("count")
    found = samples(child("scrape", str(tmp_path / "data")))
    assert (
        value(found, "gitops_bot_deliveries_total", forge="github", event="push", outcome="queued")
        == 3
    )
    assert value(found, "gitops_bot_job_duration_seconds_count", stage="deploy") == 3
    assert value(found, "gitops_bot_queue_depth") == 0
    assert len(list(shared.glob("*.db"))) >= 3  # one file per process and metric type
