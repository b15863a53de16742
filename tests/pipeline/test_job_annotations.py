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


def test_change_rule_findings_on_a_line_are_annotated() -> None:
    """A change rule's finding (here a new plaintext Secret value) is annotated on the file
    and line of the object it names; one without a line, or already on main, is not."""
    secret = Finding(
        Severity.ERROR,
        "policy",
        "web/staging: Secret/db gets new values in plain text (data.password)",
        "apps/web/secret.yaml",
        1,
        rule="gitops.change.deny_secret_values",
    )
    unplaced = Finding(Severity.ERROR, "policy", "too many replicas", rule="gitops.change.deny")
    result = ReviewResult("b" * 40, "h" * 40, (), findings=(secret, unplaced))
    [note] = _annotations(result)
    assert (note.path, note.start_line, note.level, note.title) == (
        "apps/web/secret.yaml",
        1,
        "failure",
        "change rule: policy",
    )
