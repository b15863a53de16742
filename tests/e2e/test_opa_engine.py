"""The OPA server engine end to end, against the OPA REST test server backed by real OPA:
`gitops-bot check --engine opa` gives the embedded engine's report, and the review and deploy
jobs of the service evaluate on the server named by GITOPS_BOT_OPA_URL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git
from tests.e2e.loop import REPO, pr_payload, running_loop
from tests.e2e.test_check import ROOT
from tests.e2e.test_deploy_loop import deploy_statuses, merge, push_payload, reviewed_change
from tests.policy.opa_server import OpaTestServer

# A conftest-style repository policy in Rego v0, as many libraries still are.
REPO_POLICY = """package main

deny[msg] {
  input.kind == "ConfigMap"
  msg := sprintf("%s: configuration belongs in the chart's values", [input.metadata.name])
}

warn[msg] {
  input.kind == "Service"
  msg := sprintf("service %s is exposed", [input.metadata.name])
}
"""


@pytest.fixture
def opa() -> Iterator[OpaTestServer]:
    with OpaTestServer() as server:
        yield server
        assert server.state.violations == []


def evaluations(opa: OpaTestServer) -> int:
    return sum(
        1
        for method, path in opa.state.requests
        if method == "POST" and path.startswith("/v1/data/gitops_bot/")
    )


def check(repo: Path, *engine: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "check",
            str(repo),
            "--base",
            "main",
            "--head",
            "change",
            "--format",
            "json",
            "--no-cache",
            "-q",
            *engine,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def without_timings(report: dict[str, Any]) -> dict[str, Any]:
    return {
        **report,
        "targets": [{k: v for k, v in t.items() if k != "seconds"} for t in report["targets"]],
    }


def test_check_with_the_opa_engine_reports_what_the_embedded_one_does(
    tmp_path: Path, opa: OpaTestServer
) -> None:
    repo = tmp_path / "shop"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_repo.py"), str(repo)],
        check=True,
        capture_output=True,
    )
    (repo / "policies").mkdir()
    (repo / "policies" / "pods.rego").write_text(REPO_POLICY)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "repository policies")
    git(repo, "checkout", "-q", "change")
    git(repo, "merge", "-q", "--no-edit", "main")
    git(repo, "checkout", "-q", "main")

    code, embedded = check(repo)
    opa_code, on_opa = check(repo, "--engine", "opa", "--opa-url", opa.url)
    assert (opa_code, without_timings(on_opa)) == (code, without_timings(embedded))
    findings = [f for t in on_opa["targets"] for f in t["findings"] if f["check"] == "policy"]
    assert {f["rule"] for f in findings} == {"main.deny", "main.warn"}
    assert "web-site: configuration belongs in the chart's values" in {
        f["message"] for f in findings
    }
    [approval] = on_opa["approvals"]  # the default change policy: production needs two
    assert approval["reason"] == "changes production (shop/production, web/production)"
    assert evaluations(opa) > 0

    usage = subprocess.run(
        [sys.executable, "-m", "bot", "check", str(repo), "--engine", "opa"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert usage.returncode == 2 and "--opa-url" in usage.stderr


def test_review_and_deploy_jobs_evaluate_on_the_opa_server(
    tmp_path: Path, opa: OpaTestServer
) -> None:
    with running_loop(tmp_path, policy_engine="opa", opa_url=opa.url) as loop:
        reviewed_change(loop, 1, "scale", {"charts/shop/values-production.yaml": "replicas: 4\n"})
        reviewed = evaluations(opa)
        assert reviewed > 0
        before, after = merge(loop, 1, "scale")
        assert loop.deliver("push", push_payload(before, after), delivery="merge-1")[0] == 202
        loop.work()
        assert deploy_statuses(loop, after) == ["success", "success"]
        assert evaluations(opa) > reviewed  # the deploy job judged the merge on OPA too

        # OPA goes away: the next review fails closed and says why.
        opa.stop()
        git(loop.repo, "checkout", "-q", "-b", "more", "main")
        (loop.repo / "charts/shop/values-production.yaml").write_text("replicas: 5\n")
        git(loop.repo, "commit", "-qam", "shop: 5 replicas")
        head, base = loop.head("more"), loop.head("main")
        git(loop.repo, "checkout", "-q", "main")
        loop.forge.add_pull(
            REPO,
            2,
            head_sha=head,
            base_sha=base,
            author="octocat",
            files=["charts/shop/values-production.yaml"],
        )
        assert loop.deliver("pull_request", pr_payload("opened", head, base, 2))[0] == 202
        loop.work()
        assert loop.statuses(head)[-1]["state"] == "failure"
        body = loop.comments(2)[-1]["body"]
        assert "policy engine error" in body and "OPA server" in body
