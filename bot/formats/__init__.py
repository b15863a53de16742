"""PURE: the review as CI systems read it — SARIF 2.1.0 (GitHub code scanning), JUnit XML,
and GitLab's Code Quality report — from one list of located findings (`located`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from bot.model import Finding, ReviewResult, Severity
from bot.redact import redact
from bot.repo.repo_config import CONFIG_FILE

TOOL = "gitops-bot"
INFORMATION_URI = "https://github.com/gitops-bot/gitops-bot"
# What each check is, for the rule descriptions CI systems show.
CHECKS = {
    "render": "The app renders (plain YAML, kustomize or helm template) within its budgets",
    "sandbox": "The render stays inside the repository: no symlinks out, no unreadable files",
    "validate": "Every rendered object validates against the Kubernetes JSON schemas",
    "policy": "Rego policy",
    "config": "The repository's .gitops-bot.yaml is valid",
    "diff": "The change can be compared with the base",
    "live": "The change can be compared with what is live",
}


@dataclass(frozen=True)
class Located:
    """A finding where CI systems pin it: a repository file (and line), its rule and target."""

    rule: str  # "validate", "render", "policy/main.deny", ...
    check: str
    severity: Severity
    message: str  # redacted
    path: str  # repository-relative file the finding is shown on
    line: int | None  # 1-based, when the finding points at a line of that file
    target: str  # the target id ("web/production"), "" for change-level findings
    object: str  # the Kubernetes object, "" when none

    @property
    def fingerprint(self) -> str:
        """Stable across runs for the same finding at the same place (not the line)."""
        key = "\0".join((self.rule, self.path, self.target, self.object, self.message))
        return hashlib.sha256(key.encode()).hexdigest()


def rule_id(f: Finding) -> str:
    """`policy/<package>.<rule>` for policy findings, else the check's name."""
    return f"{f.check}/{f.rule}" if f.check == "policy" and f.rule else f.check


def describe_rule(rule: str) -> str:
    """One sentence on what a rule checks."""
    check, _, name = rule.partition("/")
    if check == "policy" and name:
        return f"Rego policy rule {name}"
    return CHECKS.get(check, f"gitops-bot check {check}")


def _place(f: Finding, fallback: str) -> tuple[str, int | None]:
    """The repository file (and line) a finding is shown on."""
    file = f.file or ""
    if file.startswith("helm:"):  # a chart template: rendered lines are not template lines
        return file.removeprefix("helm:"), None
    if file and not file.startswith("/"):
        return file, f.line if f.line and f.line > 0 else None
    return fallback, None


def located(result: ReviewResult) -> Iterator[Located]:
    """Every finding of the review, target findings first, with where to show it."""
    for t in result.targets:
        for f in t.findings:
            path, line = _place(f, t.target.path or ".")
            yield Located(
                rule_id(f),
                f.check,
                f.severity,
                redact(f.message),
                path,
                line,
                t.target.id,
                str(f.object) if f.object else "",
            )
    for f in result.findings:
        path, line = _place(f, CONFIG_FILE)
        yield Located(
            rule_id(f),
            f.check,
            f.severity,
            redact(f.message),
            path,
            line,
            "",
            str(f.object) if f.object else "",
        )
