"""Which policy engine evaluates the Rego policies: the server setting or `check --engine`."""

from __future__ import annotations

from bot.errors import ConfigError
from bot.policy.embedded import EmbeddedEngine
from bot.policy.impact import PolicyEngine
from bot.policy.opa_server import OpaServerEngine

ENGINES = ("embedded", "opa")


def make_engine(kind: str, opa_url: str = "", opa_token: str | None = None) -> PolicyEngine:
    """`embedded` (regopy in this process) or `opa` (the OPA server at `opa_url`)."""
    if kind == "embedded":
        return EmbeddedEngine()
    if kind == "opa":
        try:
            return OpaServerEngine(opa_url, token=opa_token)
        except ValueError as exc:
            raise ConfigError(str(exc), key="GITOPS_BOT_OPA_URL") from None
    raise ConfigError(
        f"unknown policy engine {kind!r}; use one of {', '.join(ENGINES)}",
        key="GITOPS_BOT_POLICY_ENGINE",
    )
