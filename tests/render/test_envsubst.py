"""Flux's variable substitution, checked against fluxcd/pkg/envsubst's own test table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.render.envsubst import SubstitutionError
from bot.render.envsubst_eval import path_match, substitute

CASES = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "flux-envsubst" / "eval_test_cases.json").read_text()
)


@pytest.mark.parametrize("case", CASES["expand"], ids=lambda c: c["input"])
def test_expand_like_flux(case: dict[str, object]) -> None:
    assert substitute(str(case["input"]), case["params"]) == case["output"]  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CASES["strict"], ids=lambda c: c["input"])
def test_strict_like_flux(case: dict[str, object]) -> None:
    if case["error"]:
        with pytest.raises(SubstitutionError, match="variable not set"):
            substitute(str(case["input"]), case["params"], strict=True)  # type: ignore[arg-type]
    else:
        assert (
            substitute(
                str(case["input"]),
                case["params"],  # type: ignore[arg-type]
                strict=True,
            )
            == case["output"]
        )


def test_only_braced_variables_are_substituted() -> None:
    text = "cmd: echo $HOME ${HOME} $${HOME}"
    assert substitute(text, {"HOME": "/root"}) == "cmd: echo $HOME /root ${HOME}"


def test_unset_variables_are_empty_unless_kept_for_unread_secrets() -> None:
    assert substitute("a=${A} b=${B:-x}", {}) == "a= b=x"
    assert substitute("a=${A} b=${B:-x}", {}, keep_unknown=True) == "a=${A} b=x"


@pytest.mark.parametrize("text", ["${var-x}", "${", "${var", "${1bad"])
def test_malformed_expressions_fail_like_flux(text: str) -> None:
    with pytest.raises(SubstitutionError):
        substitute(text, {"var": "v"})


def test_glob_star_crosses_slashes_as_in_flux() -> None:
    assert path_match("*/c", "a/b/c") and path_match("a?b", "a/b")
    assert not path_match("a*x", "a/b/c")
