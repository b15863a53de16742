"""`check --format codequality`: GitLab's Code Quality report, with the fields GitLab's docs
require (https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format), so
findings show in the merge request widget."""

from __future__ import annotations

import jsonschema

from bot.formats.codequality import render_codequality
from bot.model import ReviewResult

# The documented table, as a schema: description, check_name, fingerprint (unique), severity
# (info, minor, major, critical, blocker), location.path (relative), location.lines.begin.
ISSUE = {
    "type": "object",
    "required": ["description", "check_name", "fingerprint", "severity", "location"],
    "properties": {
        "description": {"type": "string", "minLength": 1},
        "check_name": {"type": "string", "minLength": 1},
        "fingerprint": {"type": "string", "minLength": 1},
        "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
        "location": {
            "type": "object",
            "required": ["path", "lines"],
            "properties": {
                "path": {"type": "string", "pattern": "^[^/]"},
                "lines": {
                    "type": "object",
                    "required": ["begin"],
                    "properties": {"begin": {"type": "integer", "minimum": 1}},
                },
            },
        },
    },
}
REPORT = {"type": "array", "items": ISSUE}


def test_the_documented_fields_with_unique_fingerprints(reviews: dict[str, ReviewResult]) -> None:
    for branch in ("change", "denied"):
        issues = render_codequality(reviews[branch])
        jsonschema.validate(issues, REPORT)
        assert issues and len({i["fingerprint"] for i in issues}) == len(issues)
    denied = render_codequality(reviews["denied"])
    latest = [i for i in denied if ":latest" in i["description"]]
    assert (
        latest[0]["severity"] == "major"
        and latest[0]["check_name"] == "gitops-bot/policy/main.deny"
    )
    assert latest[0]["location"] == {"path": "apps/web/api-latest.yaml", "lines": {"begin": 1}}
    assert any(i["severity"] == "minor" for i in denied)  # warnings
