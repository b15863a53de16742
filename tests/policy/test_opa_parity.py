"""The OPA server engine against the OPA REST test server (real OPA): errors, revisions,
restarts, outages. The findings table of every policy library is test_real_opa_parity.py."""

from __future__ import annotations


import pytest

from bot.model import Manifest, Severity
from bot.policy import EmbeddedEngine, OpaServerEngine, PolicySet, load_policy_set
from bot.policy.policyset import policy_set_from_files
from tests.loopback import free_port
from tests.policy.opa_server import OpaTestServer
from tests.policy.realopa import RealOpa
from tests.policy.samples import DEFAULT_POLICIES, mixed_objects, sample_change_input
from tests.policy.test_untrusted import SPELLINGS, _module


def test_engine_errors_agree_on_bad_policies(
    embedded: EmbeddedEngine, opa_engine: OpaServerEngine
) -> None:
    forbidden = policy_set_from_files(
        {"main.rego": b"package main\nimport rego.v1\nx := opa.runtime()\n"}, "repository"
    )
    pod = [Manifest({"kind": "Pod"})]
    assert opa_engine.resource_findings(forbidden, pod) == embedded.resource_findings(
        forbidden, pod
    )
    broken = policy_set_from_files({"main.rego": b"package main\nx := = 1\n"}, "repository")
    for engine in (embedded, opa_engine):
        [finding] = engine.resource_findings(broken, pod)
        assert finding.severity is Severity.ERROR and "policy engine error" in finding.message
    # OPA's error names the repository's file and line, without the revision's prefix
    unknown = policy_set_from_files(
        {
            "main.rego": (
                b"package main\nimport rego.v1\n\ndeny contains m if {\n  m := data.lib.f(1)\n}\n"
            )
        },
        "repository",
    )
    [finding] = opa_engine.resource_findings(unknown, pod)
    assert (
        "main.rego: " in finding.message
        and "line 5: undefined function data.lib.f" in finding.message
        and "gitops_bot" not in finding.message
    )


def test_revisions_never_mix(opa: OpaTestServer, opa_engine: OpaServerEngine) -> None:
    def deny(message: str) -> PolicySet:
        return policy_set_from_files(
            {"main.rego": f'package main\ndeny["{message}"] {{ true }}\n'.encode()}, "repository"
        )

    old, new = deny("old"), deny("new")
    pod = [Manifest({"kind": "Pod"})]
    assert [f.message for f in opa_engine.resource_findings(old, pod)] == ["old"]
    assert [f.message for f in opa_engine.resource_findings(new, pod)] == ["new"]
    assert [f.message for f in opa_engine.resource_findings(old, pod)] == ["old"]
    prefixes = {pid.split("/")[1] for pid in opa.state.policies}
    assert len(prefixes) == 2
    opa_engine.forget(old)
    assert len({pid.split("/")[1] for pid in opa.state.policies}) == 1


def test_lost_policies_are_uploaded_again(opa: OpaTestServer, opa_engine: OpaServerEngine) -> None:
    ps = policy_set_from_files({"main.rego": b'package main\ndeny["x"] { true }\n'}, "server")
    pod = [Manifest({"kind": "Pod"})]
    assert len(opa_engine.resource_findings(ps, pod)) == 1
    opa.state.restart()
    assert len(opa_engine.resource_findings(ps, pod)) == 1


def test_opa_down_is_a_failing_check() -> None:
    engine = OpaServerEngine(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    ps = load_policy_set(DEFAULT_POLICIES, "server")
    [finding] = engine.resource_findings(ps, mixed_objects(3))
    assert finding.severity is Severity.ERROR and "OPA server" in finding.message
    [finding] = engine.change_decision(ps, sample_change_input()).findings
    assert finding.severity is Severity.ERROR and "OPA server" in finding.message


def test_bad_url_is_refused() -> None:
    with pytest.raises(ValueError):
        OpaServerEngine("opa:8181")


def test_an_evaluation_error_is_pinned_to_its_object(
    embedded: EmbeddedEngine, opa_engine: OpaServerEngine
) -> None:
    # Two definitions of a complete rule that disagree for one object only.
    policies = policy_set_from_files(
        {
            "main.rego": (
                b"package main\nimport rego.v1\n\nteam = input.metadata.labels.a\n"
                b"team = input.metadata.labels.b\n\ndeny contains team if team\n"
            )
        },
        "repository",
    )
    objects = [
        Manifest({"kind": "Pod", "metadata": {"labels": {"a": "x", "b": "y"}}}, "a.yaml", 1),
        Manifest({"kind": "Pod", "metadata": {"labels": {"a": "z", "b": "z"}}}, "b.yaml", 1),
    ]
    for engine in (embedded, opa_engine):
        error, deny = engine.resource_findings(policies, objects)
        assert (error.severity, error.file) == (Severity.ERROR, "a.yaml"), engine.name
        assert "policy engine error" in error.message
        assert (deny.file, deny.message, deny.rule) == ("b.yaml", "z", "main.deny")


@pytest.mark.parametrize(("body", "builtin"), SPELLINGS)
def test_a_forbidden_builtin_never_reaches_the_server(
    body: str, builtin: str, opa: OpaTestServer, opa_engine: OpaServerEngine
) -> None:
    policies = policy_set_from_files({"p.rego": _module(body).encode()}, "repository")
    [finding] = opa_engine.resource_findings(policies, [Manifest({"kind": "Pod"}, "p.yaml", 1)])
    assert finding.severity is Severity.ERROR and f"{builtin} is not allowed" in finding.message
    assert [r for r in opa.state.requests if r[0] != "GET"] == []  # nothing uploaded


def test_real_opa_would_run_the_bracket_and_escaped_spellings() -> None:
    # Why the text scan must read them: OPA resolves these to the built-in (regopy does not
    # resolve the escaped one, so only the text scan stands between it and the OPA server).
    for body in ('x := opa["run\\u0074ime"]()', 'x := http["send"]({"method": "get"})'):
        with RealOpa() as real:
            real.add_module("p.rego", _module(body))
            real.compile()
