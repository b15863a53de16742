"""The stage runner: whatever one stage of one target raises is that target's ERROR finding
naming the stage; Transient errors go on to the retry path."""

from __future__ import annotations

import logging

import pytest

from bot.errors import ConfigError, ToolError, Transient
from bot.model import Severity, Target
from bot.pipeline.stages import run_stage

TARGET = Target("web", "staging", "plain", "apps/web")
NOTHING: list[int] = []  # the fallback value of a failed stage


def test_a_value_passes_through() -> None:
    assert run_stage(TARGET, "validate", lambda: [1, 2], NOTHING) == ([1, 2], [])


def test_an_unexpected_exception_is_an_error_finding_naming_stage_and_target(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def crash() -> list[int]:
        raise ValueError("dictionary update sequence element #0 SuperSecretValue")

    with caplog.at_level(logging.ERROR):
        value, [finding] = run_stage(TARGET, "live", crash, NOTHING)
    assert value == []
    assert finding.severity is Severity.ERROR and finding.check == "live"
    assert finding.file == "apps/web"
    assert finding.message.startswith(
        "internal error in the live stage of web/staging (ValueError)"
    )
    assert "SuperSecretValue" not in finding.message  # an exception's text may quote values
    assert "Traceback" in caplog.text and "live stage of web/staging crashed" in caplog.text


def test_a_tool_error_keeps_its_message_and_output_tail() -> None:
    def fail() -> list[int]:
        raise ToolError("kubeconform exited with code 3", stderr="cannot load schemas\n")

    _, [finding] = run_stage(TARGET, "validate", fail, NOTHING)
    assert finding.check == "validate"
    assert finding.message == (
        "validate failed: kubeconform exited with code 3: cannot load schemas"
    )


def test_a_user_error_is_said_as_it_is() -> None:
    def fail() -> list[int]:
        raise ConfigError("bad", file="x.yaml")

    _, [finding] = run_stage(TARGET, "render", fail, NOTHING)
    assert finding.message == "render failed: x.yaml: bad" and finding.check == "render"


def test_transient_errors_keep_their_retry_path() -> None:
    def busy() -> list[int]:
        raise Transient("forge busy", retry_after=5)

    with pytest.raises(Transient):
        run_stage(TARGET, "live", busy, NOTHING)
