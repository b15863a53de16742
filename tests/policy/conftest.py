"""Fixtures of the policy tests: an OPA REST test server on loopback, engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.policy import EmbeddedEngine, OpaServerEngine
from tests.policy.opa_server import OpaTestServer


@pytest.fixture
def opa() -> Iterator[OpaTestServer]:
    with OpaTestServer() as server:
        yield server
        # every request the engine sent had the shape OPA's REST API documents
        assert server.state.violations == []


@pytest.fixture(scope="session")
def embedded() -> EmbeddedEngine:
    return EmbeddedEngine()


@pytest.fixture
def opa_engine(opa: OpaTestServer) -> OpaServerEngine:
    return OpaServerEngine(opa.url)
