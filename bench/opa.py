"""Benchmark: the default policies on the OPA server engine vs the embedded engine.

Run: .venv/bin/python bench/opa.py   (after ./scripts/setup, which fetches the OPA engine)
The OPA server is the loopback OPA REST test server evaluating with OPA v1.20's Go engine,
so the OPA column is one HTTP round trip per object plus OPA's evaluation; a real OPA over a
network adds its latency per object. Prints the first upload of a revision and objects/s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.policy import EmbeddedEngine, OpaServerEngine, load_policy_set  # noqa: E402
from tests.policy.opa_server import OpaTestServer  # noqa: E402
from tests.policy.samples import DEFAULT_POLICIES, mixed_objects  # noqa: E402


def main() -> None:
    """Print the table."""
    policies = load_policy_set(DEFAULT_POLICIES, "server")
    embedded = EmbeddedEngine()
    started = time.perf_counter()
    embedded.prepare(policies)
    embedded_compile = time.perf_counter() - started
    with OpaTestServer() as server:
        opa = OpaServerEngine(server.url)
        started = time.perf_counter()
        opa.resource_findings(policies, mixed_objects(1))
        upload = time.perf_counter() - started
        print(
            f"default policies: {len(policies.modules)} modules; embedded compile "
            f"{embedded_compile * 1000:.0f} ms; OPA upload + first object {upload * 1000:.0f} "
            f"ms ({server.state.compiles} OPA compiles)"
        )
        print(f"{'objects':>8} {'embedded (regopy)':>22} {'OPA server (HTTP)':>22} {'same':>5}")
        for count in (20, 200, 1000):
            manifests = mixed_objects(count)
            started = time.perf_counter()
            expected = embedded.resource_findings(policies, manifests)
            local = time.perf_counter() - started
            started = time.perf_counter()
            got = opa.resource_findings(policies, manifests)
            remote = time.perf_counter() - started
            print(
                f"{count:>8} {count / local:>12,.0f} obj/s {local * 1000:>5.0f}ms "
                f"{count / remote:>12,.0f} obj/s {remote * 1000:>5.0f}ms "
                f"{'yes' if got == expected else 'NO':>5}"
            )


if __name__ == "__main__":
    main()
