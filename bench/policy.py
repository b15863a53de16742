"""Benchmark: default-policy evaluation, prepared bundle vs a fresh interpreter per object.

Run: .venv/bin/python bench/policy.py [--fresh-limit N]
Prints objects/s for 20, 200 and 1,000 objects side by side. The fresh-interpreter column
re-parses and re-compiles every module for each object, as `Interpreter.query()` does.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from regopy import Input, Interpreter, LogLevel
from regopy import rego_shared as capi

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.model import Manifest  # noqa: E402
from bot.policy import EmbeddedEngine, load_policy_set  # noqa: E402
from bot.policy import conventions as conv  # noqa: E402
from bot.policy.policyset import PolicySet  # noqa: E402
from bot.policy.rego import prepare_modules  # noqa: E402
from tests.policy.samples import DEFAULT_POLICIES, mixed_objects  # noqa: E402


def fresh_per_object(policies: PolicySet, manifests: list[Manifest]) -> int:
    """Evaluate each object in a new interpreter (no bundle); returns findings count."""
    modules = [
        *prepare_modules(policies.modules),
        ("gitops_bot_entry.rego", conv.entry_module(conv.plan(policies))),
    ]
    data = conv.json_safe(policies.data)
    total = 0
    for manifest in manifests:
        interp = Interpreter()
        interp.log_level = LogLevel.NONE
        interp.add_data(data)
        for name, src in modules:
            interp.add_module(name, src)
        interp.set_input(Input(conv.json_safe(manifest.body)))
        output = capi.rego_query(interp._impl, f"x = data.{conv.ENTRY_PACKAGE}.resource")
        if capi.rego_output_ok(output):
            total += len(capi.rego_output_string(output))
        capi.rego_free_output(output)
    return total


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--fresh-limit",
        type=int,
        default=1000,
        help="measure the fresh column on at most this many objects",
    )
    args = parser.parse_args()
    policies = load_policy_set(DEFAULT_POLICIES, "server")
    engine = EmbeddedEngine()
    started = time.perf_counter()
    assert engine.prepare(policies) is None
    compile_s = time.perf_counter() - started
    print(
        f"default policies: {len(policies.modules)} modules, revision {policies.short}; "
        f"compile once (probe + build): {compile_s * 1000:.0f} ms"
    )
    print(
        f"{'objects':>8} {'prepared bundle':>22} {'fresh interpreter/object':>28} "
        f"{'speed-up':>9} {'findings':>9}"
    )
    for count in (20, 200, 1000):
        manifests = mixed_objects(count)
        started = time.perf_counter()
        findings = engine.resource_findings(policies, manifests)
        prepared = time.perf_counter() - started
        sample = manifests[: args.fresh_limit]
        started = time.perf_counter()
        fresh_per_object(policies, sample)
        fresh = (time.perf_counter() - started) * len(manifests) / len(sample)
        note = "" if len(sample) == count else f"  (fresh extrapolated from {len(sample)})"
        print(
            f"{count:>8} {count / prepared:>12,.0f} obj/s {prepared * 1000:>5.0f}ms "
            f"{count / fresh:>14,.0f} obj/s {fresh * 1000:>7.0f}ms "
            f"{fresh / prepared:>8.1f}x {len(findings):>9}{note}"
        )
    print("target: >= 1,000 objects/s with the default policies (prepared bundle)")


if __name__ == "__main__":
    main()
