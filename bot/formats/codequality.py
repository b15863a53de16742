"""PURE: the review as a GitLab Code Quality report, which the merge request widget shows.

Fields as GitLab documents them (https://docs.gitlab.com/ci/testing/code_quality/, "Code
Quality report format"): `description`, `check_name`, `fingerprint` (unique per finding),
`severity` (info, minor, major, critical, blocker), `location.path` (relative) and
`location.lines.begin`.
"""

from __future__ import annotations

from typing import Any

from bot.formats import located
from bot.model import ReviewResult, Severity

SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def render_codequality(result: ReviewResult) -> list[dict[str, Any]]:
    """The Code Quality issues of one review (errors `major`, warnings `minor`)."""
    issues, seen = [], set()
    for item in located(result):
        fingerprint = item.fingerprint
        if fingerprint in seen:  # GitLab shows one issue per fingerprint
            continue
        seen.add(fingerprint)
        target = f" [{item.target}]" if item.target else ""
        issues.append(
            {
                "type": "issue",
                "description": f"{item.message}{target}",
                "check_name": f"gitops-bot/{item.rule}",
                "fingerprint": fingerprint,
                "severity": SEVERITY[item.severity],
                "location": {"path": item.path, "lines": {"begin": item.line or 1}},
            }
        )
    return issues
