"""Parity table: every policy library gives the same findings on regopy and on real OPA.

Each row is a policy folder and the documents it judges: its example manifests, the inputs
its own `*_test.rego` cases use (captured while the tests run on OPA), and for the default
policies a mix of objects and change inputs. The embedded engine (regopy) and the OPA server
engine (HTTP to the OPA REST test server, which evaluates with OPA v1.20's Go engine) must
agree on every finding and every change decision, and the folder's test rules must have the
same outcomes on both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.model import DiffStatus, Manifest, Severity
from bot.policy import (
    CHANGE_PACKAGE,
    ChangeInfo,
    EmbeddedEngine,
    OpaServerEngine,
    build_change_input,
    load_policy_set,
)
from bot.policy.policyset import policy_set_from_files
from bot.policy.testing import run_policy_tests
from tests.policy.opa_tests import run_on_real_opa
from tests.policy.samples import (
    CONFTEST,
    DEFAULT_POLICIES,
    INSTRUMENTA,
    load_manifests,
    mixed_objects,
    sample_change_input,
    target_result,
)


@dataclass(frozen=True)
class Row:
    """A policy folder, its layer, and the documents to judge besides its tests' inputs."""

    folder: Path
    layer: str
    manifests: Callable[[], list[Manifest]]
    change_inputs: Callable[[], list[dict[str, Any]]] = list
    has_tests: bool = False


def _yaml(path: Path) -> Callable[[], list[Manifest]]:
    return lambda: load_manifests(path)


def _change_inputs() -> list[dict[str, Any]]:
    # Two production targets, not in sorted order: a policy that joins a set into a string
    # must not depend on the engine's set order (regopy iterates sets in insertion order,
    # OPA in sorted order).
    productions = build_change_input(
        [
            target_result(app, "production", [("apps", "Deployment", "web", DiffStatus.CHANGED)])
            for app in ("web", "shop")
        ],
        ChangeInfo("alice", "b" * 40, "h" * 40),
    )
    return [sample_change_input(), productions]


TABLE = {
    "default-policies": Row(
        DEFAULT_POLICIES, "server", lambda: mixed_objects(25), _change_inputs, has_tests=True
    ),
    "conftest-kubernetes": Row(
        CONFTEST / "kubernetes" / "policy",
        "repository",
        _yaml(CONFTEST / "kubernetes" / "deployment+service.yaml"),
    ),
    "conftest-exceptions": Row(
        CONFTEST / "exceptions" / "policy",
        "repository",
        _yaml(CONFTEST / "exceptions" / "deployments.yaml"),
    ),
    "instrumenta": Row(
        INSTRUMENTA,
        "repository",
        _yaml(CONFTEST / "kubernetes" / "deployment+service.yaml"),
        has_tests=True,
    ),
}


@pytest.mark.parametrize("row_id", sorted(TABLE))
def test_regopy_and_real_opa_agree(
    row_id: str, embedded: EmbeddedEngine, opa_engine: OpaServerEngine
) -> None:
    row = TABLE[row_id]
    policies = load_policy_set(row.folder, row.layer)
    opa_run = run_on_real_opa(row.folder)
    manifests = row.manifests() + [
        Manifest(body, f"{row_id}-test-input-{i}.yaml", 1)
        for i, body in enumerate(
            body
            for pkg, bodies in sorted(opa_run.inputs.items())
            if pkg != CHANGE_PACKAGE
            for body in bodies
        )
    ]
    change_inputs = row.change_inputs() + opa_run.inputs.get(CHANGE_PACKAGE, [])
    if row.has_tests:
        assert len(manifests) > len(row.manifests()), "no test inputs were captured"

    for manifest in manifests:
        expected = embedded.resource_findings(policies, [manifest])
        assert not any("policy engine error" in f.message for f in expected)
        assert opa_engine.resource_findings(policies, [manifest]) == expected, manifest.file
    every = embedded.resource_findings(policies, manifests)
    assert any(f.severity is Severity.ERROR for f in every)
    assert opa_engine.resource_findings(policies, manifests) == every

    decisions = []
    for change_input in change_inputs:
        decision = embedded.change_decision(policies, change_input)
        assert opa_engine.change_decision(policies, change_input) == decision, change_input
        decisions.append(decision)
    if row_id == "default-policies":
        assert any(d.findings for d in decisions) and any(d.approvals for d in decisions)

    if row.has_tests:
        report = run_policy_tests(row.folder)
        assert report.error is None
        on_regopy = {r.name: r.outcome for r in report.results}
        assert on_regopy == opa_run.outcomes
        assert set(on_regopy.values()) == {"pass"}


def test_a_known_regopy_bug_fails_closed(
    embedded: EmbeddedEngine, opa_engine: OpaServerEngine
) -> None:
    # regopy 1.5.2 writes a sprintf result whose argument came through a function with the
    # argument's quotes (`<"hi">`, which is not JSON). The embedded engine must report that
    # as an engine error, never as some other message; real OPA gives the message.
    policies = policy_set_from_files(
        {
            "main.rego": (
                b"package main\nimport rego.v1\n\nname(x) := x\n\n"
                b'deny contains sprintf("<%s>", [name("hi")]) if input.kind == "Pod"\n'
            )
        },
        "repository",
    )
    pod = [Manifest({"kind": "Pod"}, "pod.yaml", 1)]
    [finding] = embedded.resource_findings(policies, pod)
    assert finding.severity is Severity.ERROR
    assert "policy engine error" in finding.message and "unreadable result" in finding.message
    assert [f.message for f in opa_engine.resource_findings(policies, pod)] == ["<hi>"]
