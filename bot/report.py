"""Review results -> the Markdown comment (marker, summary, per-object diffs, size limit), the
JSON report and the commit status line."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from bot import markdown as md
from bot import markers
from bot.model import (
    ApprovalRequirement,
    Attachment,
    DiffStatus,
    Finding,
    ObjectDiff,
    ReviewResult,
    Severity,
    State,
    TargetResult,
)
from bot.redact import redact

MARKER = markers.REVIEW
GITHUB_COMMENT_LIMIT = 65_536
GITLAB_NOTE_LIMIT = 1_000_000
STATUS_LIMIT = 140
MESSAGE_LIMIT = 1_000  # per finding in Markdown; the JSON report keeps the whole text
FIELDS_SHOWN = 10
RECHECK = markers.RECHECK

ICON = {State.SUCCESS: "✅", State.WARNING: "⚠️", State.FAILURE: "❌", State.ERROR: "❌",
        State.PENDING: "⏳", State.SKIPPED: "⏭️"}
WORD = {State.SUCCESS: "passed", State.WARNING: "passed with warnings", State.FAILURE: "failed",
        State.ERROR: "errored", State.PENDING: "pending", State.SKIPPED: "skipped"}
SEVERITY_ICON = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}
# What an ERROR finding of each check is called in the status line.
ERROR_NOUN = {"validate": "schema error", "policy": "policy denial", "render": "render error",
              "sandbox": "sandbox violation", "config": "config error", "diff": "diff error"}
SHOWN = (DiffStatus.CREATED, DiffStatus.CHANGED, DiffStatus.DELETED)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _short(sha: str | None) -> str:
    if not sha:
        return "?"
    return sha[:7] if len(sha) >= 7 and all(c in "0123456789abcdef" for c in sha) else sha


def _failing(state: State) -> bool:
    return state >= State.FAILURE


def _see(url: str | None) -> str:
    return f"see the {md.link('full report', url)}" if url else "see the full report"


def _finding(f: Finding) -> str:
    bits = [f"{SEVERITY_ICON[f.severity]} **{f.severity.name.lower()}**", md.code(f.check)]
    if f.object:
        bits.append(md.code(str(f.object)))
    if f.location:
        bits.append(md.code(f.location))
    line = "- " + " · ".join(b for b in bits if b) + " — " + md.text(f.message, limit=MESSAGE_LIMIT)
    return line + (f" (rule {md.code(f.rule)})" if f.rule else "") + "\n"


def _counts(t: TargetResult) -> str:
    changes = ", ".join(f"{t.count(s)} {s.value}" for s in (*SHOWN, DiffStatus.UNCHANGED))
    bits = [f"{ICON[t.state]} <code>{md.html(t.target.id)}</code>", WORD[t.state]]
    if t.errors or t.warnings:
        bits.append(f"{_n(t.errors, 'error')}, {_n(t.warnings, 'warning')}")
    bits.append(changes if t.diffs else "no objects")
    return " · ".join(bits) + (" · cached" if t.cached else "")


def _live(t: TargetResult) -> str:
    """What merging does to what is live, and drift that predates the change."""
    if t.live_diffs is None:
        return ""
    counts = ", ".join(f"{sum(1 for d in t.live_diffs if d.status is s)} {s.value}"
                       for s in SHOWN)
    out = f"**Against what is live** (what merging does): {counts}.\n\n"
    for d in t.live_diffs:
        if d.status in SHOWN:
            fields = ", ".join(md.code(p) for p in d.changed_fields[:FIELDS_SHOWN])
            out += f"- {d.status.value} {md.code(str(d.key))}{': ' + fields if fields else ''}\n"
    if t.drift:
        out += ("\n**Drift already live** (live differs from the base branch; not caused by "
                "this change):\n\n")
        for d in t.drift:
            fields = ", ".join(md.code(p) for p in d.changed_fields[:FIELDS_SHOWN])
            out += f"- {d.status.value} {md.code(str(d.key))}{': ' + fields if fields else ''}\n"
    return out + "\n"


def _object(d: ObjectDiff) -> str:
    where = f"{d.file}:{d.line}" if d.file and d.line else d.file or ""
    summary = f"{d.status.value} <code>{md.html(str(d.key))}</code>"
    summary += f" · <code>{md.html(where)}</code>" if where else ""
    out = f"<details>\n<summary>{summary}</summary>\n\n"
    if d.changed_fields:
        shown = ", ".join(md.code(p) for p in d.changed_fields[:FIELDS_SHOWN])
        rest = len(d.changed_fields) - FIELDS_SHOWN
        out += f"Changed: {shown}{f' and {rest} more' if rest > 0 else ''}\n\n"
    out += md.fence(d.diff, "diff") if d.diff else "_(no diff text)_\n"
    return out + "\n</details>\n\n"


def _approval(a: ApprovalRequirement) -> str:
    by = ", ".join(md.code(u, cell=True) for u in a.satisfied_by)
    if a.satisfied:
        status = f"✅ approved by {by}"
    else:
        status = f"⏳ {a.count - len(a.satisfied_by)} more needed" + (f"; approved by {by}"
                                                                       if by else "")
    return (f"| {md.code(a.group, cell=True)} | {len(a.satisfied_by)} of {a.count} "
            f"| {md.text(a.reason)} | {status} |\n")


def _overview(result: ReviewResult, *, with_findings: bool) -> str:
    """Summary table, change-level findings, notes and approvals."""
    out = ""
    if result.targets:
        out += ("| Target | State | Created | Changed | Deleted | Errors | Warnings | Cached |\n"
                "| :-- | :-- | --: | --: | --: | --: | --: | :-: |\n")
        for t in result.targets:
            counts = " | ".join(str(t.count(s)) for s in SHOWN)
            out += (f"| {md.code(t.target.id, cell=True)} | {ICON[t.state]} {WORD[t.state]} "
                    f"| {counts} | {t.errors} | {t.warnings} | {'yes' if t.cached else 'no'} |\n")
        out += "\n"
    else:
        out += "No apps affected by this change.\n\n"
    if with_findings and result.findings:
        out += "#### Findings for the whole change\n\n"
        out += "".join(_finding(f) for f in result.findings) + "\n"
    if result.notes:
        out += "#### Notes\n\n" + "".join(f"- {md.text(n)}\n" for n in result.notes) + "\n"
    if result.approvals:
        out += ("#### Required approvals\n\n| Group | Approvals | Reason | Status |\n"
                "| :-- | --: | :-- | :-- |\n")
        out += "".join(_approval(a) for a in result.approvals) + "\n"
        if not result.approvals_enforced:
            out += ("_Approvals are given on the pull / merge request; this local check "
                    "lists them without enforcing them._\n\n")
    return out


def _attachment(a: Attachment) -> str:
    return (f"<details>\n<summary>{md.html(redact(a.title))}</summary>\n\n"
            f"{md.fence(redact(a.body), a.lang)}\n</details>\n\n")


def _footer(result: ReviewResult, url: str | None) -> str:
    state = result.state
    if _failing(state):
        out = ("**How to fix:** fix the findings above and push again, or comment "
               f"`{RECHECK}` to run the review again.")
        if any(not a.satisfied for a in result.approvals):
            out += " Missing approvals are picked up when a reviewer approves."
    elif state is State.WARNING:
        out = f"Warnings do not block the merge. Comment `{RECHECK}` to run the review again."
    else:
        out = f"Comment `{RECHECK}` to run the review again."
    if url:
        out += f" {md.link('Full report', url)}."
    return f"---\n\n{out}\n"


def _more(noun: str, url: str | None) -> Callable[[int], str]:
    # After a list the line needs a blank line before it, or it joins the last item.
    before, after = ("\n", "\n") if noun == "finding" else ("", "\n\n")
    return lambda n: f"{before}… {_n(n, f'more {noun}')} not shown ({_see(url)}){after}"


def _rank(t: TargetResult, index: int) -> tuple[int, int]:
    # Failing targets' items are kept before passing ones when cutting.
    return (0 if _failing(t.state) else 1, index)


def _parts(result: ReviewResult, title: str, url: str | None, *, diffs: bool) -> list[md.Part]:
    state = result.state
    headline = (f"{MARKER}\n### {ICON[state]} {md.text(title)}: {WORD[state]} · "
                f"{md.code(_short(result.base))}..{md.code(_short(result.head))}\n\n")
    parts = [md.Part(headline), md.Part(_overview(result, with_findings=diffs))]
    if result.attachments:
        parts.append(md.Part("", [((-1, 1, j), _attachment(a))
                                  for j, a in enumerate(result.attachments)], "",
                             _more("attachment", url)))
    if not diffs and result.findings:
        parts.append(md.Part("#### Findings for the whole change\n\n",
                           [((-1, 0, j), _finding(f)) for j, f in enumerate(result.findings)],
                           "\n", _more("finding", url)))
    for i, t in enumerate(result.targets):
        head = (f"<details{' open' if _failing(t.state) else ''}>\n"
                f"<summary>{_counts(t)}</summary>\n\n")
        findings = [_finding(f) for f in t.findings]
        shown = [d for d in t.diffs if d.status in SHOWN]
        if diffs:
            head += "".join(findings) + ("\n" if findings else "") + _live(t)
            items = [((*_rank(t, i), j), _object(d)) for j, d in enumerate(shown)]
            parts.append(md.Part(head, items, "</details>\n\n", _more("object", url)))
        else:
            tail = "\n" + (_more("object", url)(len(shown)) if shown else "") + "</details>\n\n"
            items = [((*_rank(t, i), j), f) for j, f in enumerate(findings)]
            parts.append(md.Part(head, items, tail, _more("finding", url)))
    parts.append(md.Part(_footer(result, url)))
    return parts


def render_markdown(result: ReviewResult, *, max_chars: int = GITHUB_COMMENT_LIMIT,
                    full_report_url: str | None = None, title: str = "gitops-bot review") -> str:
    """The review comment, MARKER first, at most `max_chars` long (for max_chars >= ~1,000).

    When the full comment is too long, diffs are left out whole objects at a time (failing
    targets' diffs are kept first) and the headline, summary, approvals and all findings
    stay; if the findings alone are too long they are cut too, with counts. Fences and
    `<details>` blocks are never cut in half.
    """
    url = full_report_url
    parts = _parts(result, title, url, diffs=True)
    full, _ = md.assemble(parts, None)
    if len(full) <= max_chars:
        return full
    shortened = f"> ✂️ Shortened to fit the comment size limit ({_see(url)})"
    fitted = md.fit(parts, max_chars, lambda n: f"{shortened}: {_n(n, 'object')} not shown.\n\n")
    objects = sum(t.count(s) for t in result.targets for s in SHOWN)
    if fitted is None:
        fitted = md.fit(_parts(result, title, url, diffs=False), max_chars,
                      lambda n: f"{shortened}: {_n(n, 'finding')} and "
                                f"{_n(objects, 'object')} not shown.\n\n")
    if fitted is None:
        head, foot = parts[0].head, parts[-1].head
        findings = len(result.findings) + sum(len(t.findings) for t in result.targets)
        note = (f"{shortened}: only the summary fits ({_n(findings, 'finding')} and "
                f"{_n(objects, 'object')} not shown).\n\n")
        fitted = head + note + _overview(result, with_findings=False) + foot
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
        "id": t.target.id, "app": t.target.app, "environment": t.target.environment,
        "renderer": t.target.renderer, "path": t.target.path, "origin": t.target.origin,
        "state": t.state.name.lower(), "cached": t.cached, "seconds": t.seconds,
        "counts": {**counts, "errors": t.errors, "warnings": t.warnings},
        "findings": [f.to_dict() for f in t.findings],
        "diffs": [{"key": str(d.key), "group": d.key.group, "kind": d.key.kind,
                   "namespace": d.key.namespace, "name": d.key.name,
                   "status": d.status.value, "changed_fields": list(d.changed_fields),
                   "diff": d.diff, "file": d.file, "line": d.line} for d in t.diffs],
        "live": None if t.live_diffs is None else [
            {"key": str(d.key), "status": d.status.value, "changed_fields": list(d.changed_fields),
             "diff": d.diff} for d in t.live_diffs if d.status in SHOWN],
        "drift": [{"key": str(d.key), "status": d.status.value,
                   "changed_fields": list(d.changed_fields)} for d in t.drift],
    }


def render_json(result: ReviewResult) -> dict[str, Any]:
    """Everything in the review as JSON-ready data (every string redacted)."""
    data: dict[str, Any] = _redacted({
        "state": result.state.name.lower(),
        "base": result.base,
        "head": result.head,
        "status": status_line(result),
        "targets": [_target_json(t) for t in result.targets],
        "findings": [f.to_dict() for f in result.findings],
        "notes": [redact(n) for n in result.notes],
        "attachments": [{"title": redact(a.title), "body": redact(a.body)}
                        for a in result.attachments],
        "approvals_enforced": result.approvals_enforced,
        "approvals": [{"group": a.group, "count": a.count, "reason": a.reason,
                       "satisfied_by": list(a.satisfied_by), "satisfied": a.satisfied}
                      for a in result.approvals],
    })
    return data


def status_line(result: ReviewResult) -> str:
    """One line for the commit status (at most 140 characters), e.g.
    "3 targets: 2 passed, 1 failed — 2 schema errors, 1 policy denial"."""
    if not result.targets:
        head = "No apps affected"
    else:
        states = Counter(WORD[t.state] if _failing(t.state) or t.state is State.PENDING
                         else "passed" for t in result.targets)
        head = f"{_n(len(result.targets), 'target')}: " + ", ".join(
            f"{states[w]} {w}" for w in ("passed", "failed", "errored", "pending") if states[w])
    findings = [*result.findings, *(f for t in result.targets for f in t.findings)]
    errors = Counter(f.check for f in findings if f.severity is Severity.ERROR)
    details = [_n(n, ERROR_NOUN.get(check, f"{check} error")) for check, n in errors.items()]
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    if warnings:
        details.append(_n(warnings, "warning"))
    missing = sum(1 for a in result.approvals if not a.satisfied)
    if missing:
        details.append(_n(missing, "approval") + " missing")
    if not details and result.targets:
        counts = {s.value: sum(t.count(s) for t in result.targets) for s in SHOWN}
        details = [f"{n} {word}" for word, n in counts.items() if n] or ["no changes"]
    line = redact(head + (" — " + ", ".join(details) if details else ""))
    if len(line) > STATUS_LIMIT:
        line = line[:STATUS_LIMIT - 1].rsplit(" ", 1)[0].rstrip(",") + "…"
    return line
