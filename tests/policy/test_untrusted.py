"""Rego from a pull request: refused built-ins in every spelling, a sandbox with nothing to
steal, and limits that stop a runaway policy (docs/security.md#untrusted-rego)."""

from __future__ import annotations

import base64
import os

import pytest

from bot.config import drop_credentials
from bot.model import Severity
from bot.policy import EmbeddedEngine
from bot.policy.isolated import IsolatedProgram
from bot.policy.policyset import policy_set_from_files
from bot.policy.regocore import Program, RegoFailure
from bot.policy.source import forbidden_calls
from tests.policy.test_embedded import POD

TOKEN = "ghp_untrustedRegoToken0123456789abcdefAB"

# (what the policy calls, the built-in the bot must name); each is a full rule body.
SPELLINGS = [
    ("x := opa.runtime()", "opa.runtime"),
    ('x := opa["runtime"]()', "opa.runtime"),
    ('x := opa[ "runtime" ]()', "opa.runtime"),
    ("x := opa[`runtime`]()", "opa.runtime"),
    ('x := opa["run\\u0074ime"]()', "opa.runtime"),
    ("x := opa .runtime()", "opa.runtime"),
    ("x := count([1]) with count as opa.runtime", "opa.runtime"),
    ('x := http.send({"method": "get", "url": "http://127.0.0.1:9"})', "http.send"),
    ('x := http["send"]({"method": "get", "url": "http://127.0.0.1:9"})', "http.send"),
    ('x := net.lookup_ip_addr("localhost")', "net.lookup_ip_addr"),
    ('x := rego.parse_module("p.rego", "package p")', "rego.parse_module"),
    ("x := time.now_ns()", "time.now_ns"),
    ('x := rand.intn("k", 10)', "rand.intn"),
    ('x := uuid.rfc4122("k")', "uuid.rfc4122"),
]


def _module(body: str) -> str:
    return (
        "package main\nimport rego.v1\n"
        f"deny contains msg if {{\n  {body}\n  msg := base64.encode(json.marshal(x))\n}}\n"
    )


@pytest.mark.parametrize(("body", "builtin"), SPELLINGS)
@pytest.mark.parametrize("isolated", [False, True], ids=["trusted", "sandboxed"])
def test_every_spelling_of_a_forbidden_builtin_is_refused(
    body: str, builtin: str, isolated: bool
) -> None:
    files = {"p.rego": _module(body).encode()}
    engine = EmbeddedEngine(isolated=isolated)
    try:
        found = engine.resource_findings(policy_set_from_files(files, "repository"), [POD])
    finally:
        engine.close()
    assert [f.severity for f in found] == [Severity.ERROR], found
    assert f"{builtin} is not allowed in policies" in found[0].message
    assert "p.rego:" in found[0].message  # names the file (and the line where it is known)


# regopy keeps `\u` escapes in a reference as written, so that spelling names no built-in
# there (OPA would unescape it: the text scan refuses it for the OPA server engine).
RESOLVED = [s for s in SPELLINGS if "\\u" not in s[0]]


@pytest.mark.parametrize(("body", "builtin"), RESOLVED)
def test_the_compiled_plan_names_every_spelling(body: str, builtin: str) -> None:
    """The real compile sees each call, whatever the text looks like."""
    calls = Program([("p.rego", _module(body))], {}, ["main/deny"]).builtin_calls()
    assert builtin in [name for name, _, _ in calls]


def test_an_escaped_reference_is_no_call_in_regopy() -> None:
    program = Program(
        [("p.rego", 'package main\nenv := opa["run\\u0074ime"]()\n')], {}, ["main/env"]
    )
    with pytest.raises(RegoFailure, match="Function not found"):
        program.evaluate("main/env", {})


def test_the_text_scan_reads_bracket_and_escaped_spellings() -> None:
    for body, builtin in SPELLINGS[:6] + SPELLINGS[7:9]:
        assert [name for name, _ in forbidden_calls(_module(body))] == [builtin], body


def test_the_sandbox_has_an_empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a policy allowed to call opa.runtime() finds nothing in the sandbox."""
    monkeypatch.setenv("GITOPS_BOT_GITHUB_TOKEN", TOKEN)
    src = "package main\nimport rego.v1\nenv := opa.runtime().env\n"
    program = IsolatedProgram([("p.rego", src)], {}, ["main/env"], forbidden=())
    try:
        defined, env = program.evaluate("main/env", {})
        # only the locale Python sets for itself (PEP 538) is there
        assert defined and set(env) <= {"LC_CTYPE"}, env
    finally:
        program.close()


def test_the_sandbox_has_no_network() -> None:
    src = 'package main\nimport rego.v1\nips := net.lookup_ip_addr("localhost")\n'
    program = IsolatedProgram([("p.rego", src)], {}, ["main/ips"], forbidden=())
    try:
        defined, value = program.evaluate("main/ips", {})
    except RegoFailure:
        defined, value = False, None
    finally:
        program.close()
    assert not (defined and value)  # nothing resolves: not even the loopback address


def test_a_policy_over_its_memory_limit_is_stopped() -> None:
    src = (
        "package main\nimport rego.v1\n"
        "big := [x | some x in numbers.range(1, 100000000)]\n"
        'deny contains "x" if count(big) > 0\n'
    )
    program = IsolatedProgram([("p.rego", src)], {}, ["main/deny"], memory=256 << 20)
    with pytest.raises(RegoFailure, match="more memory than the policy process may use"):
        program.evaluate("main/deny", {})


def test_a_policy_over_its_time_limit_is_killed() -> None:
    src = (
        "package main\nimport rego.v1\n"
        'deny contains "x" if { some i in numbers.range(1, 1000000000); i < 0 }\n'
    )
    program = IsolatedProgram([("p.rego", src)], {}, ["main/deny"], answer_timeout=1)
    with pytest.raises(RegoFailure, match="took too long"):
        program.evaluate("main/deny", {})
    with pytest.raises(RegoFailure, match="gone"):  # and it stays stopped
        program.evaluate("main/deny", {})


def test_credentials_leave_the_environment_once_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """After drop_credentials, even trusted in-process evaluation sees no credential."""
    for name, value in (
        ("GITOPS_BOT_GITHUB_TOKEN", TOKEN),
        ("GITOPS_BOT_DATABASE_URL", "postgresql://bot:pw-1234567@db/bot"),
        ("CI_JOB_TOKEN", "cijobtoken-abcdef123456"),
        ("AWS_SECRET_ACCESS_KEY", "awsSECRETkey/1234567890"),
        ("SSH_AUTH_SOCK", "/run/agent.sock"),
    ):
        monkeypatch.setenv(name, value)
    removed = drop_credentials()
    assert removed == [
        "AWS_SECRET_ACCESS_KEY",
        "CI_JOB_TOKEN",
        "GITOPS_BOT_DATABASE_URL",
        "GITOPS_BOT_GITHUB_TOKEN",
    ]
    assert os.environ["SSH_AUTH_SOCK"] == "/run/agent.sock"
    env = Program(
        [("p.rego", "package main\nenv := opa.runtime().env\n")], {}, ["main/env"]
    ).evaluate("main/env", {})[1]
    assert not set(removed) & set(env) and TOKEN not in str(env)
    from bot.redact import redact

    # and an encoded copy is masked: at most the last, partial base64 group remains
    assert redact(base64.b64encode(TOKEN.encode()).decode()) == "***g=="
