"""GITOPS_BOT_POLICY_ENGINE / GITOPS_BOT_OPA_URL: read, checked, and turned into an engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import Config, Secret
from bot.errors import ConfigError
from bot.model import Manifest
from bot.pipeline.handlers import policy_engine
from bot.policy import EmbeddedEngine, OpaServerEngine, load_policy_set
from tests.policy.opa_server import OpaTestServer
from tests.policy.samples import DEFAULT_POLICIES


def test_embedded_is_the_default() -> None:
    config = Config.load({})
    assert (config.policy_engine, config.opa_url) == ("embedded", "")
    assert isinstance(policy_engine(config), EmbeddedEngine)


@pytest.fixture
def opa_with_token() -> Iterator[OpaTestServer]:
    with OpaTestServer(token="opa-bearer-secret") as server:
        yield server
        assert server.state.violations == []


def test_the_opa_engine_talks_to_the_configured_server(opa_with_token: OpaTestServer) -> None:
    opa = opa_with_token
    config = Config.load(
        {
            "GITOPS_BOT_POLICY_ENGINE": "OPA",
            "GITOPS_BOT_OPA_URL": opa.url,
            "GITOPS_BOT_OPA_TOKEN": "opa-bearer-secret",
        }
    )
    assert config.policy_engine == "opa" and config.opa_token == Secret("opa-bearer-secret")
    assert "opa-bearer-secret" not in repr(config)
    engine = policy_engine(config)
    assert isinstance(engine, OpaServerEngine)
    policies = load_policy_set(DEFAULT_POLICIES, "server")
    findings = engine.resource_findings(
        policies,
        [
            Manifest(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p"},
                    "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]},
                },
                "pod.yaml",
                1,
            )
        ],
    )
    assert any(":latest" in f.message for f in findings)
    assert any(
        method == "POST" and path.startswith("/v1/data/gitops_bot/")
        for method, path in opa.state.requests
    )
    # without the token, the server refuses: the check fails closed, naming OPA
    config = config.with_(opa_token=None)
    [refused] = policy_engine(config).resource_findings(policies, [Manifest({"kind": "Pod"})])
    assert "policy engine error" in refused.message and "OPA server" in refused.message


@pytest.mark.parametrize(
    ("env", "key", "words"),
    [
        ({"GITOPS_BOT_POLICY_ENGINE": "opa"}, "GITOPS_BOT_OPA_URL", "needs the OPA server's URL"),
        (
            {"GITOPS_BOT_POLICY_ENGINE": "opa", "GITOPS_BOT_OPA_URL": "opa:8181"},
            "GITOPS_BOT_OPA_URL",
            "http://opa:8181",
        ),
        (
            {"GITOPS_BOT_OPA_URL": "http://opa:8181"},
            "GITOPS_BOT_OPA_URL",
            "GITOPS_BOT_POLICY_ENGINE is embedded",
        ),
        ({"GITOPS_BOT_POLICY_ENGINE": "wasm"}, "GITOPS_BOT_POLICY_ENGINE", "embedded, opa"),
    ],
)
def test_inconsistent_settings_are_refused_naming_the_variable(
    env: dict[str, str], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.load(env)
    assert caught.value.key == key and words in str(caught.value)
