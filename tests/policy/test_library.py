"""Real conftest-style libraries (copied unchanged) give the denials conftest gives."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from bot.cli import main
from bot.model import Severity
from bot.policy import EmbeddedEngine, load_policy_set
from tests.policy.samples import CONFTEST, INSTRUMENTA, load_manifests


def summary(findings: list[Any]) -> list[tuple[str, str, str, str]]:
    return [(f.severity.name, f.rule, str(f.object), f.message) for f in findings]


def test_conftest_kubernetes_example(embedded: EmbeddedEngine) -> None:
    policies = load_policy_set(CONFTEST / "kubernetes" / "policy", "repository")
    manifests = load_manifests(CONFTEST / "kubernetes" / "deployment+service.yaml")
    findings = embedded.resource_findings(policies, manifests)
    assert summary(findings) == [
        (
            "ERROR",
            "main.deny",
            "Deployment/hello-kubernetes",
            "Containers must not run as root in Deployment hello-kubernetes",
        ),
        (
            "ERROR",
            "main.deny",
            "Deployment/hello-kubernetes",
            "Deployment hello-kubernetes must provide app/release labels for pod selectors",
        ),
        (
            "ERROR",
            "main.deny",
            "Deployment/hello-kubernetes",
            "hello-kubernetes must include Kubernetes recommended labels: https://kubernetes.io/"
            "docs/concepts/overview/working-with-objects/common-labels/#labels",
        ),
        (
            "ERROR",
            "main.violation",
            "Deployment/hello-kubernetes",
            "Found deployment hello-kubernetes but deployments are not allowed",
        ),
        (
            "WARNING",
            "main.warn",
            "Service/hello-kubernetes",
            "Found service hello-kubernetes but services are not allowed",
        ),
    ]
    deployment, service = manifests
    assert {(f.file, f.line) for f in findings if f.object == deployment.key} == {
        ("deployment+service.yaml", 1)
    }
    assert {(f.file, f.line) for f in findings if f.object == service.key} == {
        ("deployment+service.yaml", 21)
    }


def test_conftest_exceptions_example(embedded: EmbeddedEngine) -> None:
    policies = load_policy_set(CONFTEST / "exceptions" / "policy", "repository")
    manifests = load_manifests(CONFTEST / "exceptions" / "deployments.yaml")
    assert summary(embedded.resource_findings(policies, manifests)) == [
        (
            "ERROR",
            "main.deny_run_as_root",
            "Deployment/cannot-run-as-root",
            "Containers must not run as root in Deployment cannot-run-as-root",
        ),
        (
            "INFO",
            "main.deny_run_as_root",
            "Deployment/can-run-as-root",
            "main.deny_run_as_root skipped by a policy exception",
        ),
    ]


def test_instrumenta_security_library(embedded: EmbeddedEngine) -> None:
    policies = load_policy_set(INSTRUMENTA, "repository")
    assert [p for p, _ in policies.modules] == [
        "kubernetes/lib/kubernetes.rego",
        "kubernetes/security.rego",
    ]
    manifests = load_manifests(CONFTEST / "kubernetes" / "deployment+service.yaml")
    messages = {
        f.message
        for f in embedded.resource_findings(policies, manifests)
        if f.severity is Severity.ERROR
    }
    assert messages == {
        f"hello-kubernetes in the Deployment hello-kubernetes {tail}"
        for tail in (
            "allows priviledge escalation",
            "does not have a CPU limit set",
            "does not have a memory limit set",
            "doesn't drop all capabilities",
            "is not using a read only root filesystem",
            "is running as root",
        )
    }


def test_instrumenta_latest_and_host_rules(embedded: EmbeddedEngine) -> None:
    policies = load_policy_set(INSTRUMENTA, "repository")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "hostNetwork": True,
            "hostPID": True,
            "containers": [
                {"name": "c", "image": "nginx", "securityContext": {"privileged": True}}
            ],
        },
    }
    from bot.model import Manifest

    messages = {f.message for f in embedded.resource_findings(policies, [Manifest(pod)])}
    assert "c in the Pod nginx has an image, p, using the latest tag" in messages
    assert "c in the Pod p is privileged" in messages
    assert "The Pod p is connected to the host network" in messages
    assert "The Pod p is sharing the host PID" in messages


def test_library_unit_tests_run_unchanged() -> None:
    result = CliRunner().invoke(main, ["policy", "test", str(INSTRUMENTA), "-v"])
    assert result.exit_code == 0, result.output
    assert "data.main.test_deployment_without_security_context: PASS" in result.output
    assert "PASS: 2/2" in result.output
