"""The JSON API: the same data as the pages, filtered the same way, masked the same way."""

from __future__ import annotations

import json
from typing import Any

from tests.web.dashboard.conftest import Running
from tests.web.dashboard.seed import (
    DASH_TOKEN,
    DB_PASSWORD,
    GH_TOKEN,
    HOST,
    PAYMENTS,
    SHOP,
    Reviewed,
)


def api(site: Running, path: str, status: int = 200) -> Any:
    code, headers, body = site.get("/api/v1" + path, token=DASH_TOKEN)
    assert code == status, body
    assert headers["content-type"] == "application/json"
    for value in (DB_PASSWORD, GH_TOKEN, GH_TOKEN[4:], DASH_TOKEN):
        assert value not in body, path
    return json.loads(body)


def test_reviews_list_and_filters(site: Running) -> None:
    reviews = api(site, "/reviews")["reviews"]
    assert [(r["repo"], r["number"]) for r in reviews] == [
        (PAYMENTS, 5),
        (PAYMENTS, 4),
        (PAYMENTS, 3),
        (SHOP, 8),
        (SHOP, 7),
    ]
    assert "report" not in reviews[0] and "findings" not in reviews[0]
    assert reviews[0]["status_line"] == "clone failed: token ghp_***"
    assert reviews[-1]["path"].startswith(f"/reviews/{HOST}/{SHOP}/7/")
    assert reviews[-1]["started_at"].endswith("+00:00")
    assert [r["number"] for r in api(site, f"/reviews?repo={SHOP}")["reviews"]] == [8, 7]
    assert [r["number"] for r in api(site, "/reviews?state=running")["reviews"]] == [4]
    assert [r["number"] for r in api(site, "/reviews?limit=2")["reviews"]] == [5, 4]
    assert [r["number"] for r in api(site, "/reviews?number=8")["reviews"]] == [8]
    assert api(site, "/reviews?number=eight", status=400)["error"] == "number must be a number"


def test_review_by_key_has_findings_and_the_full_report(
    site: Running, reviews: tuple[Reviewed, Reviewed]
) -> None:
    example, secrets = reviews
    review = api(site, f"/reviews/{HOST}/{SHOP}/7/{example.head}")["review"]
    assert review["state"] == "failure" and review["report"] == example.report
    assert any("spec.replicas" in f["message"] for f in review["findings"])
    masked = api(site, f"/reviews/{HOST}/{SHOP}/8/{secrets.head}")["review"]
    assert "Secret/web/web-db" in masked["report"] and "***" in masked["report"]
    leaked = api(site, f"/reviews/{HOST}/{PAYMENTS}/5/{'d' * 40}")["review"]
    assert "x-access-token:***@github.com" in leaked["report"]
    api(site, f"/reviews/{HOST}/{SHOP}/7/{'0' * 40}", status=404)


def test_deployments_drift_and_audit(site: Running) -> None:
    deployments = api(site, "/deployments")["deployments"]
    assert [(d["environment"], d["state"]) for d in deployments] == [
        ("production", "refused"),
        ("production", "failed"),
        ("staging", "succeeded"),
    ]
    failed = deployments[1]
    assert failed["applied"] == ["ConfigMap/web/web-deploy"]
    assert failed["failed"] == [{"key": "Secret/web/web-db", "error": "forbidden"}]
    assert failed["change_path"] == f"/?repo={SHOP}&number=8"
    assert failed["summary"] == "apply failed after 1 of 2 (token ghp_***)"
    staging = api(site, "/deployments?environment=staging")["deployments"]
    assert [d["state"] for d in staging] == ["succeeded"]
    assert api(site, "/deployments?repo=acme/other")["deployments"] == []

    drift = {d["target"]: d for d in api(site, "/drift")["drift"]}
    assert drift["web/production"]["drifted"] == 2 and drift["web/staging"]["drifted"] == 0
    assert drift["web/staging"]["healed"] is True
    assert drift["web/production"]["objects"][0]["changed_fields"] == ["spec.replicas"]

    audit = api(site, "/audit")["audit"]
    assert len(audit) == 5 and audit[0]["action"] == "review.approved"
    refused = api(site, "/audit?action=deploy.refused")["audit"]
    assert [e["actor"] for e in refused] == ["mallory"]
    assert refused[0]["detail"]["push_url"] == "https://mallory:***@github.com/acme/shop.git"
    assert len(api(site, "/audit?actor=alice")["audit"]) == 2
    assert len(api(site, f"/audit?repo={SHOP}")["audit"]) == 4
    assert len(api(site, f"/audit?repo={HOST}/{SHOP}&action=review")["audit"]) == 1
    assert api(site, "/audit?action=revie")["audit"] == []
