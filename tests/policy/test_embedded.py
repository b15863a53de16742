"""The embedded engine: conftest conventions, fail-closed errors, regopy pitfalls contained."""

from __future__ import annotations

import datetime
from typing import Any

from regopy import Interpreter, LogLevel

from bot.model import Manifest, ObjKey, Severity
from bot.policy import EmbeddedEngine, PolicySet
from bot.policy.policyset import policy_set_from_files

POD = Manifest(
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    },
    "pod.yaml",
    3,
)


def policies(namespaces: tuple[str, ...] = ("main",), **files: str) -> PolicySet:
    return policy_set_from_files(
        {k.replace("__", "/") + ".rego": v.encode() for k, v in files.items()},
        "repository",
        namespaces=namespaces,
    )


def only_error(findings: list[Any]) -> str:
    assert len(findings) == 1 and findings[0].severity is Severity.ERROR, findings
    assert findings[0].check == "policy"
    return str(findings[0].message)


def test_findings_name_rule_object_and_location(embedded: EmbeddedEngine) -> None:
    ps = policies(
        main="package main\nimport rego.v1\n"
        'deny contains "no pods" if input.kind == "Pod"\n'
        'warn contains "w" if input.kind == "Pod"\n'
        'violation contains {"msg": "v", "details": {"k": 1}} if '
        'input.kind == "Pod"\n'
    )
    found = embedded.resource_findings(ps, [POD])
    assert [(f.severity, f.rule, f.message, f.file, f.line, f.object) for f in found] == [
        (Severity.ERROR, "main.deny", "no pods", "pod.yaml", 3, ObjKey("", "Pod", "n", "p")),
        (
            Severity.ERROR,
            "main.violation",
            'v (details: {"k": 1})',
            "pod.yaml",
            3,
            ObjKey("", "Pod", "n", "p"),
        ),
        (Severity.WARNING, "main.warn", "w", "pod.yaml", 3, ObjKey("", "Pod", "n", "p")),
    ]


def test_namespaces_are_configurable(embedded: EmbeddedEngine) -> None:
    files = {
        "a": 'package main\ndeny["main"] { true }\n',
        "b": 'package team.k8s\ndeny["team"] { true }\n',
    }
    assert [f.message for f in embedded.resource_findings(policies(("main",), **files), [POD])] == [
        "main"
    ]
    assert [
        f.message for f in embedded.resource_findings(policies(("team.k8s",), **files), [POD])
    ] == ["team"]
    assert sorted(
        f.rule or "" for f in embedded.resource_findings(policies(("*",), **files), [POD])
    ) == ["main.deny", "team.k8s.deny"]


def test_syntax_error_is_a_failing_finding_with_location(embedded: EmbeddedEngine) -> None:
    ps = policies(ok='package main\ndeny["x"] { false }\n', broken="package main\n\nx := = 1\n")
    message = only_error(embedded.resource_findings(ps, [POD]))
    assert "broken.rego:3" in message and "Invalid assignment operator" in message
    decision = embedded.change_decision(ps, {})
    assert "broken.rego:3" in only_error(list(decision.findings))


def test_runtime_error_fails_that_object(embedded: EmbeddedEngine) -> None:
    ps = policies(
        main='package main\nimport rego.v1\nx := 1 if input.kind == "Pod"\n'
        'x := 2 if input.metadata.name == "p"\ndeny contains "d" if x == 1\n'
    )
    message = only_error(embedded.resource_findings(ps, [POD]))
    assert "evaluation failed" in message
    assert embedded.resource_findings(ps, [Manifest({"kind": "Service"})]) == []


def test_forbidden_builtins_are_refused_before_compiling(embedded: EmbeddedEngine) -> None:
    for call in (
        'http.send({"method": "get", "url": "http://127.0.0.1:9"})',
        "opa.runtime().env",
        'net.lookup_ip_addr("example.com")',
    ):
        ps = policies(
            main=f"package main\nimport rego.v1\nenv := {call}\n"
            'deny contains sprintf("%v", [env]) if true\n'
        )
        message = only_error(embedded.resource_findings(ps, [POD]))
        assert "main.rego:3" in message and "is not allowed" in message


def test_regopy_has_no_network_but_leaks_the_environment() -> None:
    """Why the refusal above matters: regopy's http.send is undefined (no network built-in),
    but opa.runtime() hands a policy every environment variable of the process."""
    interp = Interpreter()
    interp.log_level = LogLevel.NONE
    interp.add_module(
        "h.rego",
        "package h\nimport rego.v1\n"
        'r := http.send({"method": "get", "url": "http://127.0.0.1:9"})\n'
        "env := opa.runtime().env\n",
    )
    sent = interp.query("x = data.h.r")
    assert sent.ok() and sent.results[0].bindings == {}
    env = interp.query("x = data.h.env")
    assert "PATH" in env.results[0].bindings["x"]


def test_with_input_in_a_policy_rule_does_not_crash(embedded: EmbeddedEngine) -> None:
    # regopy aborts the process on `with input as` next to helper rules; the bot routes
    # input through a rule so this compiles, and the compile probe would catch a crash.
    ps = policies(
        main='package main\nimport rego.v1\nis_pod if input.kind == "Pod"\n'
        'pod_rule if { is_pod with input as {"kind": "Pod"} }\n'
        'deny contains "via with" if pod_rule\n'
    )
    assert [f.message for f in embedded.resource_findings(ps, [POD])] == ["via with"]


def test_a_compiler_crash_is_a_failing_finding(monkeypatch: Any) -> None:
    from bot.policy import isolated

    monkeypatch.setattr(isolated, "CHILD", isolated.CHILD.with_name("no-such-child.py"))
    ps = policies(main='package main\ndeny["x"] { true }\n')
    assert "policy process failed" in only_error(EmbeddedEngine().resource_findings(ps, [POD]))


def test_crash_detected_by_probe() -> None:
    from bot.policy.rego import probe

    crash = (
        'package main\nimport rego.v1\nis_pod if input.kind == "Pod"\n'
        'deny contains "p" if is_pod\n'
        't if { deny["p"] with input as {"kind": "Pod"} }\n'
    )
    reason = probe([("main.rego", crash)], {}, ["main/t"])
    assert reason is not None and "crashed" in reason


def test_unsupported_sprintf_output_fails_closed(embedded: EmbeddedEngine) -> None:
    ps = policies(
        main="package main\nimport rego.v1\n"
        'deny contains sprintf("%s!", [concat(",", ["a", "b"])]) if '
        'input.kind == "Pod"\n'
    )
    assert "unreadable result" in only_error(embedded.resource_findings(ps, [POD]))


def test_yaml_values_and_data_reach_policies(embedded: EmbeddedEngine) -> None:
    files = {
        "main.rego": b"package main\nimport rego.v1\n"
        b'deny contains sprintf("%v %v", [input.metadata.annotations.when, '
        b"data.limits.max]) if true\n",
        "limits/data.yaml": b"max: 3\n",
    }
    ps = policy_set_from_files(files, "server")
    body = {
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"when": datetime.date(2024, 1, 2)}},
    }
    assert [f.message for f in embedded.resource_findings(ps, [Manifest(body)])] == ["2024-01-02 3"]


def test_bundle_built_once_per_revision() -> None:
    engine = EmbeddedEngine(probe=False)
    ps = policies(main='package main\ndeny["x"] { input.kind == "Pod" }\n')
    first = engine.compiled(ps)
    engine.resource_findings(ps, [POD] * 5)
    assert engine.compiled(ps) is first
    other = policies(main='package main\ndeny["y"] { input.kind == "Pod" }\n')
    assert engine.compiled(other) is not first
    assert engine.prepare(ps) is None


def test_empty_set_and_no_manifests(embedded: EmbeddedEngine) -> None:
    empty = policy_set_from_files({}, "repository")
    assert empty.empty and embedded.resource_findings(empty, [POD]) == []
    assert embedded.change_decision(empty, {}).findings == ()
