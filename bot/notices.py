"""The bot's short comments besides the review report: a review that could not finish, a
refused command, a deploy result. Pure functions of plain data.

Like the report (bot/report.py), they start with their kind's marker (bot.markers) and put
every piece of text that is not the bot's own through bot.markdown: error messages in a
fence, names in code spans, so a file name holding `@team`, `<img onerror=…>`,
`</details>` or a link goes out inert (docs/security.md#case-106).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot import markdown as md
from bot import markers

FAILED_HEADLINE = "### ❌ gitops-bot review: failed"
_INTERNAL = (
    "The bot hit an internal error while reviewing this change; its operators have the details."
)


def review_failed(error: str | None) -> str:
    """The review comment when the review could not finish: the error (None: an internal
    error, whose details stay in the bot's logs) and how to retry."""
    what = (
        ("The review could not finish:\n\n" + md.fence(error, "text"))
        if error
        else _INTERNAL + "\n"
    )
    return (
        f"{markers.REVIEW}\n{FAILED_HEADLINE}\n\n{what}\n"
        f"Fix the problem and push again, or comment `{markers.RECHECK}` to retry.\n"
    )


def refused(sender: str) -> str:
    """The reply to a comment command from someone without write access."""
    return (
        f"{markers.REFUSAL}\n{md.code(sender)}: `{markers.RECHECK}` needs write access to "
        "this repository; ask a maintainer to run it.\n"
    )


def command_refused(sender: str, command: str, reason: str) -> str:
    """The reply to an override or break-glass command that was not accepted, and why."""
    return (
        f"{markers.REFUSAL}\n{md.code(sender)}: {md.code(command)} was not accepted: "
        f"{md.text(reason)}\n"
    )


def break_glass(state: str, message: str, head: str) -> str:
    """The loud break-glass comment: `state` is "requested", "confirmed" or "withdrawn"."""
    if state == "confirmed":
        return (
            f"{markers.BREAK_GLASS}\n## 🚨 BREAK-GLASS IN EFFECT for {md.code(head[:12])}"
            f"\n\n{md.text(message)}\n\nPolicy denials and required approvals do not "
            "block this commit, and it deploys on merge. Render and schema errors still "
            f"block. A new push ends it; `{markers.BREAK_GLASS_COMMAND} withdraw` ends it "
            "now. This is recorded in the audit trail.\n"
        )
    title = "⚠️ Break-glass requested" if state == "requested" else "Break-glass withdrawn"
    return f"{markers.BREAK_GLASS}\n## {title}\n\n{md.text(message)}\n"


def deploy_result(
    environment: str,
    sha: str,
    ok: bool,
    summary: str,
    failed: Sequence[tuple[str, str]] = (),
    not_attempted: Sequence[str] = (),
) -> str:
    """The comment on a merged change telling what its deploy to `environment` did."""
    verdict = "✅ deployed" if ok else "❌ failed to deploy"
    lines = [
        markers.deploy(environment),
        f"### {verdict} to {md.code(environment)} at {md.code(sha[:12])}",
        "",
        md.text(summary),
    ]
    if failed:
        lines += ["", "Failed:", ""]
        for key, error in failed:
            lines += [f"- {md.code(key)}:", "", _indent(md.fence(error, "text"))]
    if not_attempted:
        lines += ["", "Not attempted: " + ", ".join(md.code(k) for k in not_attempted)]
    return "\n".join(lines) + "\n"


def _indent(block: str) -> str:
    # A fence indented under its list item stays part of it.
    return "".join(
        f"  {line}" if line.strip() else line for line in block.splitlines(keepends=True)
    ).rstrip("\n")
