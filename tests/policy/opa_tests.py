"""A policy folder's `test_*` rules on the real OPA engine: outcomes and the inputs they use.

Each `with input as VALUE` of a test module is wrapped in a function that prints
`json.marshal(VALUE)` and returns VALUE, so evaluating the tests on OPA yields both the test
outcomes (to compare with `gitops-bot policy test` on regopy) and every input document the
tests feed to the policies (to compare the two engines' findings on them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.policy import regov1, source
from bot.policy.policyset import load_policy_set
from bot.policy.testing import ERROR, FAIL, PASS, SKIP
from tests.policy.realopa import OpaFailure, RealOpa

CAPTURE = "gitops_bot_seen_input"
_CAPTURE_RULE = f"\n{CAPTURE}(x) := x if {{ print(json.marshal(x)) }}\n"
_ENDS = frozenset({")", "]", "}", ";", ","})


def _value_end(toks: list[source.Token], start: int) -> int:
    """Index after the last token of the `with` value that starts at `start`."""
    depth, last = toks[start].depth, start
    for j in range(start, len(toks)):
        tok = toks[j]
        if tok.depth == depth and (
            tok.kind == "newline"
            or tok.text in _ENDS
            or (tok.kind == "ident" and tok.text == "with")
        ):
            break
        if tok.kind not in ("ws", "comment", "newline"):
            last = j
    return last + 1


def capture_inputs(src: str) -> str:
    """`src` with every `with input as VALUE` value wrapped in the capture function."""
    toks = source.tokens(src)
    sig = [i for i, t in enumerate(toks) if t.kind not in ("ws", "comment", "newline")]
    opens: dict[int, str] = {}
    closes: dict[int, str] = {}
    for n, i in enumerate(sig[:-3]):
        a, b, c = (toks[sig[n + k]] for k in (0, 1, 2))
        if (a.text, b.text, c.text) == ("with", "input", "as"):
            start = sig[n + 3]
            opens[start] = f"{CAPTURE}("
            closes[_value_end(toks, start)] = ")"
    out = [closes.get(i, "") + opens.get(i, "") + t.text for i, t in enumerate(toks)]
    return "".join(out) + closes.get(len(toks), "") + (_CAPTURE_RULE if opens else "")


@dataclass
class OpaTestRun:
    """Outcome per test (`data.<pkg>.<rule>` -> pass/fail/error/skip) and inputs per package."""

    outcomes: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, list[Any]] = field(default_factory=dict)


def run_on_real_opa(directory: Path) -> OpaTestRun:
    """Evaluate every `test_*` rule of `directory` on OPA (modules in Rego v1 as uploaded)."""
    policies = load_policy_set(directory, "tests", include_tests=True)
    run = OpaTestRun()
    with RealOpa() as opa:
        for path, src in policies.modules:
            opa.add_module(path, capture_inputs(regov1.to_v1(src)))
        if policies.data:
            opa.add_data(dict(policies.data))
        for _path, src in policies.modules:
            pkg = source.package_name(src) or ""
            for rule in source.rule_heads(src):
                name = f"data.{pkg}.{rule}"
                if rule.startswith("todo_test_"):
                    run.outcomes[name] = SKIP
                if not rule.startswith("test_"):
                    continue
                try:
                    defined, value = opa.evaluate(name, {})
                    run.outcomes[name] = PASS if defined and value is True else FAIL
                except OpaFailure:
                    run.outcomes[name] = ERROR
                seen = run.inputs.setdefault(pkg, [])
                for text in opa.prints:
                    value = json.loads(text)
                    if value not in seen:
                        seen.append(value)
    return run
