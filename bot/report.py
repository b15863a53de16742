"""Review results -> the Markdown comment (bot.report_sections builds its parts; this module
fits them to the size limit), the JSON report and the commit status line."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot import markdown as md
from bot import markers
from bot import report_sections as sec
from bot.decide import review_outcome
from bot.outcomes import Verdict
from bot.model import DiffStatus, ReviewResult, Severity, State, TargetResult
from bot.redact import redact

MARKER = markers.REVIEW
GITHUB_COMMENT_LIMIT = 65_536
GITLAB_NOTE_LIMIT = 1_000_000
STATUS_LIMIT = 140
RECHECK = markers.RECHECK
ICON, WORD, SHOWN = sec.ICON, sec.WORD, sec.SHOWN
# What an ERROR finding of each check is called in the status line.
ERROR_NOUN = {
    "validate": "schema error",
    "policy": "policy denial",
    "render": "render error",
    "sandbox": "sandbox violation",
    "config": "config error",
    "diff": "diff error",
}


def public_url(url: str | None) -> str | None:
    """A link only to a public dashboard: a local path (a CLI's report file) is never one."""
    return url if url and url.startswith(("https://", "http://")) else None


def _footer(result: ReviewResult, url: str | None) -> str:
    state = result.state
    if review_outcome(result) == Verdict.NEEDS_APPROVAL:
        out = (
            "**Waiting for approvals:** the checks pass; the review runs again when a "
            f"reviewer approves (or comment `{RECHECK}`)."
        )
    elif sec.failing(state):
        out = (
            "**How to fix:** fix the new problems above and push again, or comment "
            f"`{RECHECK}` to run the review again."
        )
        if any(not a.satisfied for a in result.approvals):
            out += " Missing approvals are picked up when a reviewer approves."
    elif state is State.WARNING:
        out = f"Warnings do not block the merge. Comment `{RECHECK}` to run the review again."
    else:
        out = f"Comment `{RECHECK}` to run the review again."
    if url:
        out += f" {md.link('Full report', url)}."
    return f"---\n\n{out}\n"


def render_markdown(
    result: ReviewResult,
    *,
    max_chars: int = GITHUB_COMMENT_LIMIT,
    full_report_url: str | None = None,
    title: str = "gitops-bot review",
) -> str:
    """The review comment, MARKER first, at most `max_chars` long (for max_chars >= ~1,000).

    When the full comment is too long, items are left out in this order: findings already
    on main, findings beyond the first few of each rule ("and 37 more like this"), diffs
    beyond the first of each changed kind per target, then those. The headline, counts,
    dangerous changes, summary table, notes and approvals always stay; fences and
    `<details>` blocks are never cut in half.
    """
    url = public_url(full_report_url)
    parts = sec.parts(result, title, url, MARKER, _footer)
    full, _ = md.assemble(parts, None)
    if len(full) <= max_chars:
        return full
    shortened = f"> ✂️ Shortened to fit the comment size limit ({sec.see(url)})"
    fitted = md.fit(parts, max_chars, lambda k: f"{shortened}: {sec.n(k, 'item')} not shown.\n\n")
    if fitted is not None:
        return fitted
    head = sec.headline(result, title, MARKER, *sec.verdict_words(result))
    foot = _footer(result, url)
    findings = len(sec.all_findings(result))
    objects = sum(t.count(s) for t in result.targets for s in SHOWN)
    note = (
        f"{shortened}: only the summary fits ({sec.n(findings, 'finding')} and "
        f"{sec.n(objects, 'object')} not shown).\n\n"
    )
    fitted = head + note + sec.dangers(result) + sec.table(result) + foot
    if len(fitted) > max_chars:
        fitted = head + note + foot
    return fitted


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def _target_json(t: TargetResult) -> dict[str, Any]:
    counts = {s.value: t.count(s) for s in DiffStatus}
    return {
        "id": t.target.id,
        "app": t.target.app,
        "environment": t.target.environment,
        "renderer": t.target.renderer,
        "path": t.target.path,
        "origin": t.target.origin,
        "state": t.state.name.lower(),
        "cached": t.cached,
        "seconds": t.seconds,
        "unchanged": sec.unchanged(t),
        "counts": {
            **counts,
            "errors": t.errors,
            "warnings": t.warnings,
            "new": sum(1 for f in t.findings if sec.problem(f) and f.new),
            "existing": sum(1 for f in t.findings if sec.problem(f) and not f.new),
        },
        "changed_inputs": list(t.changed_inputs),
        "findings": [f.to_dict() for f in t.findings],
        "dangers": [d.to_dict() for d in t.dangers],
        "diffs": [
            {
                "key": str(d.key),
                "group": d.key.group,
                "kind": d.key.kind,
                "namespace": d.key.namespace,
                "name": d.key.name,
                "status": d.status.value,
                "changed_fields": list(d.changed_fields),
                "diff": d.diff,
                "file": d.file,
                "line": d.line,
                "renamed_from": str(d.renamed_from) if d.renamed_from else None,
            }
            for d in t.diffs
        ],
        "live": None
        if t.live_diffs is None
        else [
            {
                "key": str(d.key),
                "status": d.status.value,
                "changed_fields": list(d.changed_fields),
                "diff": d.diff,
            }
            for d in t.live_diffs
            if d.status in SHOWN
        ],
        "drift": [
            {"key": str(d.key), "status": d.status.value, "changed_fields": list(d.changed_fields)}
            for d in t.drift
        ],
    }


def render_json(result: ReviewResult) -> dict[str, Any]:
    """Everything in the review as JSON-ready data (every string redacted); each finding
    says whether the change introduced it (`"new": true`) or the base already had it."""
    findings = sec.all_findings(result)
    data: dict[str, Any] = _redacted(
        {
            "state": result.state.name.lower(),
            "verdict": review_outcome(result),
            "base": result.base,
            "head": result.head,
            "status": status_line(result),
            "counts": {
                "targets": len(result.targets),
                "new": sum(1 for f in findings if sec.problem(f) and f.new),
                "existing": sum(1 for f in findings if sec.problem(f) and not f.new),
                **{s.value: sum(t.count(s) for t in result.targets) for s in SHOWN},
            },
            "targets": [_target_json(t) for t in result.targets],
            "findings": [f.to_dict() for f in result.findings],
            "notes": [redact(x) for x in result.notes],
            "attachments": [
                {"title": redact(a.title), "body": redact(a.body)} for a in result.attachments
            ],
            "approvals_enforced": result.approvals_enforced,
            "base_ref": result.base_ref,
            "behind": result.behind,
            "uncovered": list(result.uncovered),
            "policy_impact": [
                {
                    "target": i.target,
                    "verdict": i.verdict,
                    "added": [f.to_dict() for f in i.added],
                    "removed": [f.to_dict() for f in i.removed],
                }
                for i in result.policy_impact
            ],
            "approvals": [
                {
                    "group": a.group,
                    "count": a.count,
                    "reason": a.reason,
                    "satisfied_by": list(a.satisfied_by),
                    "satisfied": a.satisfied,
                    "can_approve": list(a.candidates),
                }
                for a in result.approvals
            ],
        }
    )
    return data


def status_line(result: ReviewResult) -> str:
    """One line for the commit status (at most 140 characters), e.g.
    "3 targets: 2 passed, 1 failed — 1 schema error, 1 policy denial, 41 already on main".

    Errors and warnings counted are the change's new ones; those the base already had are
    one count at the end."""
    if not result.targets:
        head = "No app reads the changed files" if result.uncovered else "No apps affected"
    else:
        states = Counter(
            WORD[t.state] if sec.failing(t.state) or t.state is State.PENDING else "passed"
            for t in result.targets
        )
        head = f"{sec.n(len(result.targets), 'target')}: " + ", ".join(
            f"{states[w]} {w}" for w in ("passed", "failed", "errored", "pending") if states[w]
        )
    findings = sec.all_findings(result)
    new = [f for f in findings if f.new]
    errors = Counter(f.check for f in new if f.severity is Severity.ERROR)
    details = [
        sec.n(k, ERROR_NOUN.get(check, f"{check} error")) for check, k in sorted(errors.items())
    ]
    warnings = sum(1 for f in new if f.severity is Severity.WARNING)
    if warnings:
        details.append(sec.n(warnings, "warning"))
    missing = sum(1 for a in result.approvals if not a.satisfied)
    if missing:
        details.append(sec.n(missing, "approval") + " missing")
    old = sum(1 for f in findings if sec.problem(f) and not f.new)
    if not details and result.targets:
        counts = {s.value: sum(t.count(s) for t in result.targets) for s in SHOWN}
        details = [f"{k} {word}" for word, k in counts.items() if k] or ["no changes"]
    if old:
        details.append(f"{old} already on main")
    line = redact(head + (" — " + ", ".join(details) if details else ""))
    if len(line) > STATUS_LIMIT:
        line = line[: STATUS_LIMIT - 1].rsplit(" ", 1)[0].rstrip(",") + "…"
    return line
