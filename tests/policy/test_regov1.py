"""Rego v0 rule syntax rewritten to Rego v1 for OPA servers, checked by real OPA's parser."""

from __future__ import annotations

import pytest

from bot.policy.regov1 import to_v1
from tests.policy.realopa import OpaFailure, RealOpa

V0 = """package main

import data.lib

default allow = false

allow { input.user == "admin" }

deny[msg] {
  input.kind == "Pod"   # a comment with { braces }
  msg := "no pods {here}"
}

violation[{"msg": m, "details": {}}]{
  m := "x"
}

p["fixed"]

f(x) = y {
  y := x
} else = 0 {
  true
}

g(x) { x > 1 } else { false }

obj = input.review.object {
  input.review
}

limits := {"cpu": 1}
"""

V1 = """package main

import data.lib

default allow = false

allow if { input.user == "admin" }

deny contains msg if {
  input.kind == "Pod"   # a comment with { braces }
  msg := "no pods {here}"
}

violation contains {"msg": m, "details": {}} if {
  m := "x"
}

p contains "fixed"

f(x) = y if {
  y := x
} else = 0 if {
  true
}

g(x) if { x > 1 } else if { false }

obj = input.review.object if {
  input.review
}

limits := {"cpu": 1}
"""


def parses_on_opa(src: str) -> bool:
    with RealOpa() as opa:
        try:
            opa.add_module("m.rego", src)
        except OpaFailure:
            return False
        return True


def test_v0_rules_become_v1_on_the_same_lines() -> None:
    assert not parses_on_opa(V0)
    assert to_v1(V0) == V1
    assert parses_on_opa(V1)


@pytest.mark.parametrize(
    "src",
    [
        V1,
        "package m\nimport rego.v1\n\np[x] if { some x in input }\n"
        "q[k] := v if { some k, v in input }\n",
        "package m\n\nr contains x if {\n  some x in input\n}\ns := {x | some x in input}\n",
    ],
)
def test_v1_modules_are_unchanged(src: str) -> None:
    assert to_v1(src) == src


def test_the_rewrite_keeps_the_meaning() -> None:
    with RealOpa() as opa:
        opa.add_module("m.rego", to_v1(V0))
        assert opa.evaluate("data.main.deny", {"kind": "Pod"}) == (True, ["no pods {here}"])
        assert opa.evaluate("data.main.f(3)") == (True, 3)
        assert opa.evaluate("data.main.g(2)") == (True, True)
        assert opa.evaluate("data.main.f(0)") == (True, 0)
        assert opa.evaluate("data.main.p") == (True, ["fixed"])
