"""The bot's default policies on real-looking manifests, and `gitops-bot policy test`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.model import Manifest, Severity
from bot.policy import EmbeddedEngine, load_policy_set
from tests.policy.samples import CONTAINER, DEFAULT_POLICIES, deployment


def errors(engine: EmbeddedEngine, body: dict[str, Any]) -> list[str]:
    ps = load_policy_set(DEFAULT_POLICIES, "server")
    return [
        f.message
        for f in engine.resource_findings(ps, [Manifest(body, "x.yaml", 1)])
        if f.severity is Severity.ERROR
    ]


def test_every_policy_has_a_why_comment() -> None:
    for path in DEFAULT_POLICIES.rglob("*.rego"):
        if not path.name.endswith("_test.rego"):
            assert path.read_text().startswith("#"), path


def test_a_good_deployment_passes(embedded: EmbeddedEngine) -> None:
    assert errors(embedded, deployment()) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            deployment(containers=[dict(CONTAINER, image="nginx:latest")]),
            "Deployment/web: container web uses the mutable tag :latest (nginx:latest); "
            "pin a version or a digest",
        ),
        (
            deployment(containers=[dict(CONTAINER, image="nginx")]),
            "Deployment/web: container web has an untagged image (nginx), which means :latest; "
            "pin a version or a digest",
        ),
        (
            deployment(containers=[dict(CONTAINER, resources={"limits": {"memory": "1Gi"}})]),
            "Deployment/web: container web has no requests.cpu; set CPU and memory requests and "
            "a memory limit",
        ),
        (
            deployment(
                containers=[
                    dict(CONTAINER, securityContext={"runAsNonRoot": True, "privileged": True})
                ]
            ),
            "Deployment/web: container web is privileged",
        ),
        (deployment(hostPID=True), "Deployment/web: hostPID is not allowed"),
        (
            deployment(volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
            "Deployment/web: volume root mounts a hostPath (/)",
        ),
        (
            deployment(containers=[dict(CONTAINER, securityContext={})]),
            "Deployment/web: container web may run as root; set securityContext.runAsNonRoot: true",
        ),
        (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
            "Service/web: missing the label app.kubernetes.io/name",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "db", "labels": {"app.kubernetes.io/name": "db"}},
                "data": {"pw": "aGk="},
            },
            "Secret/db: plaintext Secret in Git; commit a SealedSecret or encrypt it with SOPS",
        ),
    ],
)
def test_each_policy_denies(embedded: EmbeddedEngine, body: dict[str, Any], expected: str) -> None:
    assert expected in errors(embedded, body)


def test_policy_test_passes_on_the_default_policies() -> None:
    result = CliRunner().invoke(main, ["policy", "test", str(DEFAULT_POLICIES)])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and "PASS: " in result.output


def test_a_broken_test_fails_with_its_name(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_POLICIES, tmp_path / "policies")
    (tmp_path / "policies" / "broken_test.rego").write_text(
        "package main\nimport rego.v1\n\n"
        'test_latest_is_fine if {\n\tcount(deny) == 0 with input as {"kind": "Pod", '
        '"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", '
        '"image": "nginx:latest"}]}}\n}\n'
    )
    result = CliRunner().invoke(main, ["policy", "test", str(tmp_path / "policies")])
    assert result.exit_code == 1
    assert "data.main.test_latest_is_fine: FAIL" in result.output
    assert "broken_test.rego:4" in result.output and "count(deny) == 0" in result.output
    as_json = CliRunner().invoke(
        main, ["policy", "test", "--format", "json", str(tmp_path / "policies")]
    )
    report = json.loads(as_json.output)
    assert not report["ok"]
    assert [r["name"] for r in report["results"] if r["outcome"] == "fail"] == [
        "data.main.test_latest_is_fine"
    ]


def test_policy_test_errors(tmp_path: Path) -> None:
    (tmp_path / "a.rego").write_text('package main\ndeny["x"] { true }\n')
    result = CliRunner().invoke(main, ["policy", "test", str(tmp_path)])
    assert result.exit_code == 1 and "no test_* rules" in result.output
    (tmp_path / "a_test.rego").write_text("package main\ntest_x { x := = 1 }\n")
    result = CliRunner().invoke(main, ["policy", "test", str(tmp_path)])
    assert result.exit_code == 1 and "a_test.rego:2" in result.output
    result = CliRunner().invoke(main, ["policy", "test", str(tmp_path / "missing")])
    assert result.exit_code == 2


def test_coverage_is_reported_as_unavailable() -> None:
    result = CliRunner().invoke(main, ["policy", "test", "--coverage", str(DEFAULT_POLICIES)])
    assert result.exit_code == 0
    assert "coverage: not available" in result.output
