"""Policy input handed to regopy as one JSON document, and objects evaluated once."""

from __future__ import annotations

import json

import pytest

from bot.model import Manifest
from bot.policy import EmbeddedEngine
from bot.policy.regocore import Program
from tests.policy.test_embedded import policies

ECHO = 'package main\nimport rego.v1\ndeny contains input.data.v if input.kind == "ConfigMap"\n'
TRICKY = [
    'a "quoted" value',
    "back\\slash",
    "two\nlines\tand a tab",
    "\u0001",
    "é 日本 😀",
    "</script>",
]


def _config_map(value: str, name: str = "c") -> Manifest:
    return Manifest(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}},
        "cm.yaml",
        1,
    )


@pytest.mark.parametrize("value", TRICKY)
def test_json_input_keeps_every_string_exactly(value: str) -> None:
    program = Program([("p.rego", "package p\nr := input\n")], {}, ["p/r"])
    document = {"s": value, "n": 1.5e-7, "i": 2**63 - 1, "f": 1.0, "z": None, "l": [True]}
    assert program.evaluate_json("p/r", json.dumps(document).encode()) == (
        True,
        {**document, "f": 1},
    )


@pytest.mark.parametrize("isolated", [False, True])
def test_policy_messages_carry_input_strings_unchanged(isolated: bool) -> None:
    engine = EmbeddedEngine(isolated=isolated)
    try:
        found = engine.resource_findings(
            policies(main=ECHO), [_config_map(v, f"c{i}") for i, v in enumerate(TRICKY)]
        )
        assert sorted(f.message for f in found) == sorted(TRICKY)
    finally:
        engine.close()


def test_an_object_rendered_many_times_is_evaluated_once() -> None:
    engine = EmbeddedEngine()
    ps = policies(main=ECHO)
    same = [_config_map("x") for _ in range(5)]
    found = engine.resource_findings(ps, same + [_config_map("y")])
    assert [f.message for f in found] == ["x"] * 5 + ["y"]
    assert len(engine.compiled(ps)._memo) == 2
