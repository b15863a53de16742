"""Check-run annotations mark the change's new problems only, not those already on main."""

from __future__ import annotations

from bot.model import Finding, ReviewResult, Severity, State, Target, TargetResult
from bot.pipeline.job import _annotations


def test_only_new_findings_are_annotated() -> None:
    old = Finding(
        Severity.ERROR,
        "policy",
        "Service/web: missing the label",
        "apps/web/svc.yaml",
        3,
        new=False,
    )
    new = Finding(
        Severity.ERROR, "validate", "spec.replicas: not an integer", "apps/web/deploy.yaml", 7
    )
    result = ReviewResult(
        "b" * 40,
        "h" * 40,
        (
            TargetResult(
                Target("web", "staging", "plain", "apps/web"), State.FAILURE, findings=(old, new)
            ),
        ),
    )
    assert [(a.path, a.start_line) for a in _annotations(result)] == [("apps/web/deploy.yaml", 7)]
