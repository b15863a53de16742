"""`check --format sarif` is SARIF 2.1.0 as Microsoft's own validator reads it — the SARIF
schema rules and GitHub's ingestion rules (`--rule-kind "Sarif;Gh"`) — for real reviews."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.formats.sarif import render_sarif
from bot.model import ReviewResult

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = (
    ROOT
    / ".tools"
    / "sarif"
    / "node_modules"
    / "@microsoft"
    / "sarif-multitool-linux"
    / "Sarif.Multitool"
)


def validate(log: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    """The validator's findings (its own SARIF output) about `log`."""
    assert VALIDATOR.is_file(), "the SARIF validator is missing: run ./scripts/setup"
    source, out = tmp_path / "review.sarif", tmp_path / "validation.sarif"
    source.write_text(json.dumps(log, indent=2))
    done = subprocess.run(
        [
            str(VALIDATOR),
            "validate",
            str(source),
            "--output",
            str(out),
            "--log",
            "ForceOverwrite",
            "--rule-kind",
            "Sarif;Gh",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert report["runs"][0]["tool"]["driver"]["name"] == "Sarif.Multitool"
    return [
        {
            "rule": r["ruleId"],
            "level": r.get("level", "warning"),
            "where": r["message"].get("arguments", [""])[0],
        }
        for r in report["runs"][0].get("results", [])
    ]


@pytest.mark.parametrize("branch", ["change", "denied"])
def test_microsofts_validator_finds_nothing_to_fix(
    branch: str, reviews: dict[str, ReviewResult], tmp_path: Path
) -> None:
    log = render_sarif(reviews[branch], "0.1.0")
    assert validate(log, tmp_path) == []
    results = log["runs"][0]["results"]
    assert results and all(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results
    )


def test_the_validator_is_not_a_rubber_stamp(
    reviews: dict[str, ReviewResult], tmp_path: Path
) -> None:
    """Control: the same log without locations and rule help breaks GitHub's rules."""
    log = render_sarif(reviews["denied"], "0.1.0")
    for result in log["runs"][0]["results"]:
        del result["locations"]
    del log["runs"][0]["tool"]["driver"]["rules"][0]["help"]
    found = validate(log, tmp_path)
    assert {f["rule"] for f in found if f["level"] == "error"} >= {"GH1015", "GH2012"}


def test_findings_are_pinned_to_files_and_lines(reviews: dict[str, ReviewResult]) -> None:
    run = render_sarif(reviews["denied"], "0.1.0")["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "policy/main.deny" in rules and len(rules) == len(set(rules))
    latest = [
        r
        for r in run["results"]
        if r["ruleId"] == "policy/main.deny" and ":latest" in r["message"]["text"]
    ]
    assert latest and latest[0]["level"] == "error"
    location = latest[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "apps/web/api-latest.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert location["region"]["startLine"] == 1
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
    prints = [r["partialFingerprints"]["gitopsBot/v1"] for r in run["results"]]
    assert len(prints) == len(set(prints))
    warnings = [r for r in run["results"] if r["level"] == "warning"]
    assert warnings  # the default policies warn about the missing CPU limit
