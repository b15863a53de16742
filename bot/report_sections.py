"""PURE: the sections of the review comment, as Markdown parts a size limit can cut.

Read top down in 30 seconds: headline with counts, which changed files reach which targets,
dangerous changes, the summary table, findings about the whole change, notes, approvals;
then one folded block per target with its new findings (grouped per rule), the findings
already on the base branch (folded), and a diff per changed object (identical diffs shown
once). Each item carries a rank so that cutting keeps, in order: the first findings of each
rule, one diff per changed kind per target, the other diffs, further findings of a rule,
findings already on main.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot import markdown as md
from bot.decide import review_outcome
from bot.model import (
    MOVED_AWAY,
    NOT_RENDERED,
    ApprovalRequirement,
    Attachment,
    Danger,
    DiffStatus,
    Finding,
    ObjectDiff,
    ReviewResult,
    Severity,
    State,
    TargetResult,
)
from bot.outcomes import Verdict
from bot.redact import redact

ICON = {
    State.SUCCESS: "✅",
    State.WARNING: "⚠️",
    State.FAILURE: "❌",
    State.ERROR: "❌",
    State.PENDING: "⏳",
    State.SKIPPED: "⏭️",
}
WORD = {
    State.SUCCESS: "passed",
    State.WARNING: "passed with warnings",
    State.FAILURE: "failed",
    State.ERROR: "errored",
    State.PENDING: "pending",
    State.SKIPPED: "skipped",
}
SEVERITY_ICON = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}
DANGER_ICON = {"error": "🛑", "warning": "⚠️", "info": "🗑️"}
SHOWN = (DiffStatus.CREATED, DiffStatus.CHANGED, DiffStatus.DELETED)
MESSAGE_LIMIT = 1_000  # per finding in Markdown; the JSON report keeps the whole text
FIELDS_SHOWN = 10
PER_RULE = 5  # findings of one rule kept first when cutting
FILES_SHOWN = 8  # entries in the "changed files → targets" line
FILES_PER_ENTRY = 4  # files named in one entry (files that reach the same targets)
TARGETS_PER_ENTRY = 6  # targets named in one entry
# Cutting order (lower is kept first).
FIRST_FINDINGS, FIRST_DIFF, OTHER_DIFFS, MORE_FINDINGS, OLD_FINDINGS = range(5)


def n(count: int, noun: str) -> str:
    """`1 object`, `2 objects`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def failing(state: State) -> bool:
    """Whether a state fails the review."""
    return state >= State.FAILURE


def see(url: str | None) -> str:
    """Where the whole report is: a link when a public dashboard URL exists."""
    return (
        f"see the {md.link('full report', url)}"
        if url
        else "full report in the check run / dashboard"
    )


def problem(f: Finding) -> bool:
    """Errors and warnings count as problems; notes (INFO) do not."""
    return f.severity >= Severity.WARNING


def changes(t: TargetResult) -> str:
    counts = [f"{t.count(s)} {s.value}" for s in SHOWN if t.count(s)]
    return ", ".join(counts) if counts else "no changes"


def unchanged(t: TargetResult) -> bool:
    """Renders identically at base and head (or nothing changed), and passes."""
    return not failing(t.state) and not any(t.count(s) for s in SHOWN)


def not_compared(t: TargetResult) -> bool:
    """The bot could not render the target on a side (a source outside the review)."""
    return t.target.renderer == "remote" or any(
        f.check == "render" and f.message.startswith((NOT_RENDERED, MOVED_AWAY)) for f in t.findings
    )


def state_word(t: TargetResult) -> str:
    if unchanged(t) and t.state is State.SUCCESS:
        return "not rendered" if not_compared(t) else "unchanged"
    return WORD[t.state]


def finding_line(f: Finding) -> str:
    bits = [f"{SEVERITY_ICON[f.severity]} **{f.severity.name.lower()}**", md.code(f.check)]
    if f.object:
        bits.append(md.code(str(f.object)))
    if f.location:
        bits.append(md.code(f.location))
    line = "- " + " · ".join(b for b in bits if b) + " — " + md.text(f.message, limit=MESSAGE_LIMIT)
    return line + (f" (rule {md.code(f.rule)})" if f.rule else "") + "\n"


def verdict_words(result: ReviewResult) -> tuple[str, str]:
    """The headline's icon and word: the review's state, or "needs approval" when the
    checks pass and only approvals are missing (what `check` exits 3 for)."""
    if review_outcome(result) == Verdict.NEEDS_APPROVAL:
        return "⏳", "needs approval"
    return ICON[result.state], WORD[result.state]


def headline(result: ReviewResult, title: str, marker: str, icon: str, word: str) -> str:
    """The first lines: state, revisions, and the counts a reviewer reads first."""
    shas = ""
    if result.base and result.head:
        shas = f" · {md.code(short(result.base))}..{md.code(short(result.head))}"
    elif result.head:
        shas = f" · {md.code(short(result.head))}"
    out = f"{marker}\n### {icon} {md.text(title)}: {word}{shas}\n\n"
    if not result.targets:
        return out
    findings = all_findings(result)
    new = sum(1 for f in findings if problem(f) and f.new)
    old = sum(1 for f in findings if problem(f) and not f.new)
    totals = [f"{k} {s.value}" for s in SHOWN if (k := sum(t.count(s) for t in result.targets))]
    bits = [
        f"**{n(len(result.targets), 'target')}**",
        f"**{n(new, 'new problem')}**" if new else "no new problems",
    ]
    if old:
        bits.append(f"{old} already on main")
    bits.append(", ".join(totals) or "no object changes")
    return out + " · ".join(bits) + "\n\n"


def short(sha: str) -> str:
    return sha[:7] if len(sha) >= 7 and all(c in "0123456789abcdef" for c in sha) else sha


def all_findings(result: ReviewResult) -> list[Finding]:
    return [*result.findings, *(f for t in result.targets for f in t.findings)]


def files_line(result: ReviewResult) -> str:
    """`**Changed files → targets:** \\`a.yaml\\`, \\`b.yaml\\` → \\`web/staging\\`, ...; ...`:
    files that reach the same targets share one entry; long lists are counted, not spelled."""
    reach: dict[str, list[str]] = defaultdict(list)
    for t in result.targets:
        for path in t.changed_inputs:
            reach[path].append(t.target.id)
    if not reach:
        return ""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path, ids in sorted(reach.items()):
        groups[tuple(ids)].append(path)
    every = len(result.targets)
    items = [
        _listed(files, FILES_PER_ENTRY, "more file")
        + " → "
        + (
            f"all {every} targets"
            if len(ids) == every > TARGETS_PER_ENTRY
            else _listed(ids, TARGETS_PER_ENTRY, "more target")
        )
        for ids, files in groups.items()
    ]
    more = len(items) - FILES_SHOWN
    tail = f"; and {n(more, 'more group')} of files" if more > 0 else ""
    return "**Changed files → targets:** " + "; ".join(items[:FILES_SHOWN]) + tail + "\n\n"


def _listed(names: Sequence[str], shown: int, noun: str) -> str:
    out = ", ".join(md.code(x) for x in names[:shown])
    return out + (f" and {n(len(names) - shown, noun)}" if len(names) > shown else "")


def _shown_dangers(t: TargetResult) -> list[Danger]:
    # the prune count only when it adds objects the deletions above do not list already
    deletions = sum(1 for d in t.dangers if d.kind == "delete")
    return [d for d in t.dangers if d.kind != "prune" or d.count > deletions]


def dangers(result: ReviewResult) -> str:
    """Dangerous changes first: what Kubernetes rejects or a revert cannot undo."""
    lines = [
        f"- {DANGER_ICON.get(d.severity, '⚠️')} {md.code(t.target.id)} · {md.text(d.message)}\n"
        for t in result.targets
        for d in _shown_dangers(t)
    ]
    if not lines:
        return ""
    blocking = sum(1 for t in result.targets for d in t.dangers if d.severity == "error")
    note = (
        " — the default policies block these until the platform team approves" if blocking else ""
    )
    return f"#### Dangerous changes{note}\n\n" + "".join(lines) + "\n"


def no_targets(result: ReviewResult) -> str:
    """Why a review has no targets: a policy-only change, files no app reads, or nothing."""
    if result.policy_impact:
        return (
            "No app's files change; what the new policies would do to every app is listed "
            "under Notes."
        )
    if result.uncovered:
        return "No app reads the changed files (not part of any app; listed under Notes)."
    return "No apps affected by this change."


def change_rule_problems(result: ReviewResult) -> dict[str, list[Finding]]:
    """The new problems change rules found, by the target whose changed object they name.

    Change rules judge the whole change, so their findings are listed once for it; a
    target's row still counts those about its objects, or it would read "passed" under a
    failed headline. An object several targets change belongs to the target whose id the
    message starts with, as the default change policies write it."""
    keys = {t.target.id: {d.key for d in t.diffs if d.status in SHOWN} for t in result.targets}
    out: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        if f.object is None or not (problem(f) and f.new):
            continue
        holders = [tid for tid, objs in keys.items() if f.object in objs]
        named = [tid for tid in holders if f.message.startswith(f"{tid}: ")]
        for tid in named or (holders if len(holders) == 1 else []):
            out[tid].append(f)
    return out


def shown_state(t: TargetResult, ruled: Sequence[Finding] = ()) -> tuple[State, str]:
    """A target's state and its word; failed when a change rule's error names one of its
    objects (`change_rule_problems`), though its own checks passed."""
    if not failing(t.state) and any(f.severity is Severity.ERROR for f in ruled):
        return State.FAILURE, f"{WORD[State.FAILURE]} (change rule)"
    return t.state, state_word(t)


def table(result: ReviewResult) -> str:
    if not result.targets:
        return no_targets(result) + "\n\n"
    out = (
        "| Target | State | Created | Changed | Deleted | New problems | Already on main |\n"
        "| :-- | :-- | --: | --: | --: | --: | --: |\n"
    )
    by_rule = change_rule_problems(result)
    for t in result.targets:
        counts = " | ".join(str(t.count(s)) for s in SHOWN)
        ruled = by_rule.get(t.target.id, [])
        new = sum(1 for f in t.findings if problem(f) and f.new) + len(ruled)
        old = sum(1 for f in t.findings if problem(f) and not f.new)
        state, word = shown_state(t, ruled)
        out += (
            f"| {md.code(t.target.id, cell=True)} | {ICON[state]} {word} "
            f"| {counts} | {new} | {old} |\n"
        )
    return out + "\n"


def approval_row(a: ApprovalRequirement) -> str:
    by = ", ".join(md.code(u, cell=True) for u in a.satisfied_by)
    if a.satisfied:
        status = f"✅ approved by {by}"
    else:
        status = f"⏳ {a.count - len(a.satisfied_by)} more needed" + (
            f"; approved by {by}" if by else ""
        )
        if a.candidates:
            status += "; can approve: " + ", ".join(md.code(u, cell=True) for u in a.candidates)
    return (
        f"| {md.code(a.group, cell=True)} | {len(a.satisfied_by)} of {a.count} "
        f"| {md.text(a.reason)} | {status} |\n"
    )


def notes_and_approvals(result: ReviewResult) -> str:
    out = ""
    if result.notes:
        out += "#### Notes\n\n" + "".join(f"- {md.text(x)}\n" for x in result.notes) + "\n"
    if result.approvals:
        out += (
            "#### Required approvals\n\n| Group | Approvals | Reason | Status |\n"
            "| :-- | --: | :-- | :-- |\n"
        )
        out += "".join(approval_row(a) for a in result.approvals) + "\n"
        if not result.approvals_enforced:
            out += (
                "_Approvals are given on the pull / merge request; this local check "
                "lists them without enforcing them._\n\n"
            )
    return out


def attachment(a: Attachment) -> str:
    return (
        f"<details>\n<summary>{md.html(redact(a.title))}</summary>\n\n"
        f"{md.fence(redact(a.body), a.lang)}\n</details>\n\n"
    )


@dataclass(frozen=True)
class Ctx:
    """What every part needs: the full-report URL and the failing rank of a target."""

    url: str | None
    failing: int  # 0 when the target (or the change) fails: its items are kept first
    index: int


def finding_parts(findings: Sequence[Finding], ctx: Ctx) -> list[md.Part]:
    """One part per rule: the first PER_RULE are kept first, the rest are cut first with
    "and N more like this"."""
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        groups[(f.check, f.rule or "")].append(f)
    parts: list[md.Part] = []
    for g, (_, items) in enumerate(groups.items()):
        ranked = [
            (
                (FIRST_FINDINGS if j < PER_RULE else MORE_FINDINGS, ctx.failing, ctx.index, g, j),
                finding_line(f),
            )
            for j, f in enumerate(items)
        ]
        parts.append(md.Part("", ranked, "", lambda k: f"- … and {k} more like this\n"))
    return parts


def old_findings_part(findings: Sequence[Finding], ctx: Ctx) -> list[md.Part]:
    """Findings the base branch already has: listed apart, folded, cut first."""
    if not findings:
        return []
    head = (
        f"<details>\n<summary>{n(len(findings), 'finding')} already on main (not "
        "caused by this change)</summary>\n\n"
    )
    items = [
        ((OLD_FINDINGS, ctx.failing, ctx.index, 0, j), finding_line(f))
        for j, f in enumerate(findings)
    ]
    return [
        md.Part(
            head,
            items,
            "\n</details>\n\n",
            lambda k: f"\n… {n(k, 'more finding')} not shown ({see(ctx.url)})\n",
        )
    ]


def live(t: TargetResult) -> str:
    """What merging does to what is live, and drift that predates the change."""
    if t.live_diffs is None:
        return ""
    counts = ", ".join(f"{sum(1 for d in t.live_diffs if d.status is s)} {s.value}" for s in SHOWN)
    out = f"**Against what is live** (what merging does): {counts}.\n\n"
    for d in t.live_diffs:
        if d.status in SHOWN:
            fields = ", ".join(md.code(p) for p in d.changed_fields[:FIELDS_SHOWN])
            out += f"- {d.status.value} {md.code(str(d.key))}{': ' + fields if fields else ''}\n"
    if t.drift:
        out += (
            "\n**Drift already live** (live differs from the base branch; not caused by "
            "this change):\n\n"
        )
        for d in t.drift:
            fields = ", ".join(md.code(p) for p in d.changed_fields[:FIELDS_SHOWN])
            out += f"- {d.status.value} {md.code(str(d.key))}{': ' + fields if fields else ''}\n"
    return out + "\n"


DiffKey = tuple[str, str, str, str]


def diff_key(d: ObjectDiff) -> DiffKey:
    """What makes two diffs the same change: kind, name, status and the diff text apart
    from its header and the namespace (overlays often differ only there)."""
    body = "\n".join(d.diff.split("\n")[2:])
    if d.key.namespace:
        body = re.sub(rf"(?<![\w.-]){re.escape(d.key.namespace)}(?![\w.-])", "\0", body)
    return (d.key.kind, d.key.name, d.status.value, body)


def where(d: ObjectDiff, t: TargetResult) -> tuple[str, str]:
    """(file to name, file that defines the object when that is another one) for a
    changed object: the file whose edit changed it when that can be known — its own file
    when the change edited it, else the one edited input of the target that is no other
    changed object's own file (an overlay patch, a values file, a generator's source) —
    else the file that defines it."""
    own = d.file or ""
    defined = f"{own}:{d.line}" if own and d.line else own
    if own in t.changed_inputs or d.status is not DiffStatus.CHANGED:
        return defined, ""
    others = {x.file for x in t.diffs if x.status in SHOWN and x is not d}
    edited = [p for p in t.changed_inputs if p not in others]
    if len(edited) != 1:
        return defined, ""
    return edited[0], defined


def diff_item(d: ObjectDiff, t: TargetResult, also: Sequence[str]) -> str:
    if d.renamed_from is not None:
        summary = (
            f"renamed <code>{md.html(str(d.renamed_from))}</code> → "
            f"<code>{md.html(str(d.key))}</code>"
        )
    else:
        summary = f"{d.status.value} <code>{md.html(str(d.key))}</code>"
    place, defined = where(d, t)
    summary += f" · <code>{md.html(place)}</code>" if place else ""
    summary += f" (defined in <code>{md.html(defined)}</code>)" if defined else ""
    if also:
        summary += " · same change in " + ", ".join(f"<code>{md.html(i)}</code>" for i in also)
    out = f"<details>\n<summary>{summary}</summary>\n\n"
    if d.changed_fields:
        shown = ", ".join(md.code(p) for p in d.changed_fields[:FIELDS_SHOWN])
        rest = len(d.changed_fields) - FIELDS_SHOWN
        out += f"Changed: {shown}{f' and {rest} more' if rest > 0 else ''}\n\n"
    out += md.fence(d.diff, "diff") if d.diff else "_(no diff text)_\n"
    return out + "\n</details>\n\n"


def same_item(d: ObjectDiff, first: str) -> str:
    verb = "renamed" if d.renamed_from is not None else d.status.value
    return f"- {verb} {md.code(str(d.key))} · same change as in {md.code(first)}\n\n"


def diffs_part(t: TargetResult, ctx: Ctx, seen: dict[DiffKey, list[str]]) -> md.Part:
    """Changed objects of one target: the first of each kind is kept first; a diff that
    an earlier target shows identically is one line pointing there."""
    items: list[tuple[tuple[int, ...], str]] = []
    kinds: set[str] = set()
    for j, d in enumerate(x for x in t.diffs if x.status in SHOWN):
        owners = seen[diff_key(d)]
        tier = OTHER_DIFFS if d.key.kind in kinds else FIRST_DIFF
        kinds.add(d.key.kind)
        if owners[0] != t.target.id:
            items.append(((tier, ctx.failing, ctx.index, 0, j), same_item(d, owners[0])))
        else:
            items.append(((tier, ctx.failing, ctx.index, 0, j), diff_item(d, t, owners[1:])))
    return md.Part(
        "",
        items,
        "</details>\n\n",
        lambda k: f"… {n(k, 'more object')} not shown ({see(ctx.url)})\n\n",
    )


def owners(result: ReviewResult) -> dict[DiffKey, list[str]]:
    """For each distinct diff, the targets showing it, in report order."""
    seen: dict[DiffKey, list[str]] = defaultdict(list)
    for t in result.targets:
        for d in t.diffs:
            if d.status in SHOWN:
                seen[diff_key(d)].append(t.target.id)
    return seen


def target_parts(
    t: TargetResult,
    index: int,
    url: str | None,
    seen: dict[DiffKey, list[str]],
    ruled: Sequence[Finding] = (),
) -> list[md.Part]:
    """One target's section; `ruled`: the new problems change rules found in its objects
    (`change_rule_problems`), listed for the whole change."""
    state, word = shown_state(t, ruled)
    fails = failing(state)
    ctx = Ctx(url, 0 if fails else 1, index)
    new = [f for f in t.findings if f.new]
    old = [f for f in t.findings if not f.new]
    bits = [f"{ICON[state]} <code>{md.html(t.target.id)}</code>", word]
    counts = Counter("new" if f.new else "old" for f in t.findings if problem(f))
    if counts["new"]:
        bits.append(n(counts["new"], "new problem"))
    if ruled:
        bits.append(f"{n(len(ruled), 'change-rule problem')} (listed for the whole change)")
    if counts["old"]:
        bits.append(f"{counts['old']} already on main")
    if t.diffs and not unchanged(t):
        bits.append(changes(t))
    if unchanged(t) and not t.findings and t.live_diffs is None:
        return [md.Part(f"{' · '.join(bits)} — renders the same at base and head\n\n")]
    head = f"<details{' open' if fails else ''}>\n<summary>{' · '.join(bits)}</summary>\n\n"
    parts = [md.Part(head)]
    parts += finding_parts(new, ctx)
    parts.append(md.Part("\n" if new else ""))
    parts += old_findings_part(old, ctx)
    parts.append(md.Part(live(t)))
    parts.append(diffs_part(t, ctx, seen))
    return parts


def change_parts(result: ReviewResult, url: str | None) -> list[md.Part]:
    """Findings about the whole change (change policies, configuration)."""
    if not result.findings:
        return []
    ctx = Ctx(url, 0, -1)
    return (
        [md.Part("#### Findings for the whole change\n\n")]
        + finding_parts(result.findings, ctx)
        + [md.Part("\n")]
    )


def parts(
    result: ReviewResult,
    title: str,
    url: str | None,
    marker: str,
    footer: Callable[[ReviewResult, str | None], str],
) -> list[md.Part]:
    """Every part of the comment, in order."""
    top = (
        headline(result, title, marker, *verdict_words(result))
        + files_line(result)
        + dangers(result)
        + table(result)
    )
    out = [md.Part(top)] + change_parts(result, url) + [md.Part(notes_and_approvals(result))]
    if result.attachments:
        out.append(
            md.Part(
                "",
                [
                    ((FIRST_DIFF, 0, -1, 0, j), attachment(a))
                    for j, a in enumerate(result.attachments)
                ],
                "",
                lambda k: f"… {n(k, 'more attachment')} not shown ({see(url)})\n\n",
            )
        )
    seen, by_rule = owners(result), change_rule_problems(result)
    for i, t in enumerate(result.targets):
        out += target_parts(t, i, url, seen, by_rule.get(t.target.id, ()))
    out.append(md.Part(footer(result, url)))
    return out
