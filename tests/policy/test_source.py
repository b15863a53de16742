"""The Rego lexer: packages, rule heads, forbidden built-ins, reference rewriting."""

from __future__ import annotations

from bot.policy import source

V0 = """package lib.common  # helpers

list_contains_value(list, item) {
\tlist_item = list[_]
\tlist_item == item
}

else = false {
\ttrue
}

default allow = false

deny[msg] {
  input.kind == "Pod"
  msg := "data.x and input.y in a string"
}
"""

V1 = """package main
import rego.v1

deny contains msg if {
\tsome c in input.spec.containers
\tmsg := sprintf("%v", [c.name])
}

warn_x contains "w" if input.kind == "Service"

test_deny if {
\tdeny["x"] with input as {"kind": "Pod"}
}
"""


def test_package_and_rule_heads() -> None:
    assert source.package_name(V0) == "lib.common"
    assert source.rule_heads(V0) == {
        "list_contains_value": "function",
        "allow": "rule",
        "deny": "rule",
    }
    assert source.package_name(V1) == "main"
    assert source.rule_heads(V1) == {"deny": "rule", "warn_x": "rule", "test_deny": "rule"}
    assert source.package_name("# no package\n") is None


def test_forbidden_builtins_found_outside_strings_and_comments() -> None:
    src = (
        'package p\n# http.send in a comment\nx := "opa.runtime()"\n'
        'y := http.send({"url": "http://example.com"})\nz := opa.runtime().env\n'
        "w := input.http.send\n"
    )
    assert source.forbidden_calls(src) == [("http.send", 4), ("opa.runtime", 5)]


def test_rewrite_input_keeps_lines_and_strings() -> None:
    out = source.rewrite(V1, input_ref="data.io.doc")
    assert out.count("\n") == V1.count("\n")
    assert "some c in data.io.doc.spec.containers" in out
    assert 'deny["x"] with data.io.doc as {"kind": "Pod"}' in out
    assert "import rego.v1" in out
    assert 'msg := "data.x and input.y in a string"' in source.rewrite(V0, input_ref="q")


def test_rewrite_data_prefix_moves_package_and_refs() -> None:
    src = "package main\nimport data.kubernetes\nx := data.settings.a\ny := input.data\n"
    out = source.rewrite(src, data_prefix="gitops_bot.r_1")
    assert out == (
        "package gitops_bot.r_1.main\nimport data.gitops_bot.r_1.kubernetes\n"
        "x := data.gitops_bot.r_1.settings.a\ny := input.data\n"
    )
