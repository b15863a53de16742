"""`check --format junit`: one suite per target, render / validate / policy cases that
fail with the target's errors; what CI test reports read."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bot.formats.junit import render_junit
from bot.model import ReviewResult


def test_failures_per_target_and_check(reviews: dict[str, ReviewResult]) -> None:
    result = reviews["change"]
    root = ET.fromstring(render_junit(result).split("\n", 1)[1])
    assert root.tag == "testsuites" and root.get("name") == "gitops-bot"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {t.target.id for t in result.targets}
    web = suites["web/production"]
    cases = {c.get("name"): c for c in web.findall("testcase")}
    assert set(cases) >= {"render", "validate", "policy"}
    failure = cases["validate"].find("failure")
    assert failure is not None and "spec.replicas" in (failure.text or "")
    assert "apps/web/deployment.yaml:1" in (failure.text or "")
    assert cases["render"].find("failure") is None
    assert suites["shop/production"].get("failures") == "0"
    failing = sum(
        1
        for t in result.targets
        for check in ("render", "validate", "policy")
        if any(f.check == check and f.severity.name == "ERROR" for f in t.findings)
    )
    assert int(root.get("failures") or -1) == failing
    assert int(root.get("tests") or -1) == sum(int(s.get("tests") or 0) for s in suites.values())


def test_policy_denials_and_warnings(reviews: dict[str, ReviewResult]) -> None:
    root = ET.fromstring(render_junit(reviews["denied"]).split("\n", 1)[1])
    policy = [
        c
        for s in root.findall("testsuite")
        for c in s.findall("testcase")
        if c.get("name") == "policy" and c.find("failure") is not None
    ]
    failure = policy[0].find("failure") if policy else None
    assert failure is not None and ":latest" in (failure.text or "")
    outs = [c.find("system-out") for s in root.findall("testsuite") for c in s.findall("testcase")]
    assert any(o is not None and "warning" in (o.text or "") for o in outs)
