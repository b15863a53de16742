"""PURE: "who let this in" — from a deployed commit back to its change, its review and the
approvals, overrides and break-glass that counted, folded from audit records (plain dicts
in `AuditRecord.to_dict` form). The dashboard and `gitops-bot audit --sha` show it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.outcomes import ReviewState

Record = Mapping[str, Any]
GOVERNANCE = (
    "override",
    "override.withdrawn",
    "break_glass.requested",
    "break_glass.confirmed",
    "break_glass.withdrawn",
)


@dataclass(frozen=True)
class Chain:
    """The chain of one commit: its deploys, and the review that let it in."""

    sha: str
    deploys: tuple[Record, ...]  # deploys (and refusals) of `sha`, in order
    reviewed_sha: str | None  # the SHA whose passing review let `sha` in
    changes: tuple[int, ...]  # the change(s) reviewed at that SHA
    reviews: tuple[Record, ...]  # review verdicts at the reviewed SHA
    approvals: tuple[Record, ...]  # approvals the deciding review counted
    governance: tuple[Record, ...]  # overrides and break-glass at the reviewed SHA

    @property
    def complete(self) -> bool:
        """Whether a deploy leads back to a passing review."""
        return self.reviewed_sha is not None and any(
            r.get("state") == ReviewState.SUCCESS for r in self.reviews
        )


def chain_of(sha: str, records: Sequence[Record]) -> Chain:
    """The chain of `sha` from the records of its repository (any order)."""
    ordered = sorted(records, key=lambda r: r.get("id") or 0)
    deploys = tuple(r for r in ordered if r.get("kind") == "deploy" and r.get("sha") == sha)
    reviewed = next(
        (r.get("reviewed_sha") for r in reversed(deploys) if r.get("reviewed_sha")), None
    )
    if reviewed is None and any(r.get("kind") == "review" and r.get("sha") == sha for r in ordered):
        reviewed = sha  # a commit that was reviewed itself (not deployed yet)
    at = [r for r in ordered if reviewed is not None and r.get("sha") == reviewed]
    reviews = tuple(r for r in at if r.get("kind") == "review")
    # the approvals the deciding review counted (written just before its verdict)
    deciding = next(
        (r for r in reversed(reviews) if r.get("state") == ReviewState.SUCCESS),
        reviews[-1] if reviews else None,
    )
    earlier = [
        r.get("id") or 0
        for r in reviews
        if deciding and (r.get("id") or 0) < (deciding.get("id") or 0)
    ]
    after = max(earlier, default=0)
    counted = tuple(
        r
        for r in at
        if r.get("kind") == "approval"
        and deciding is not None
        and after < (r.get("id") or 0) < (deciding.get("id") or 0)
    )
    changes: set[int] = set()
    for r in reviews:
        detail = r.get("detail") or {}
        changes.update(n for n in detail.get("changes") or () if isinstance(n, int))
        if isinstance(r.get("number"), int):
            changes.add(r["number"])
    return Chain(
        sha,
        deploys,
        reviewed,
        tuple(sorted(changes)),
        reviews,
        counted,
        tuple(r for r in at if r.get("kind") in GOVERNANCE),
    )


def describe(record: Record) -> str:
    """One line for a record (the `audit` command's text output)."""
    kind, who, sha = record.get("kind"), record.get("actor"), (record.get("sha") or "")[:12]
    where = f"{record.get('host')}/{record.get('repo')}"
    if record.get("number") is not None:
        where += f"#{record['number']}"
    detail = record.get("detail") or {}
    if kind == "approval":
        what = f"approval by {who} of {sha} (review {record.get('review_id') or '-'})"
    elif kind == "review":
        revisions = ", ".join(
            f"{k}@{str(v)[:12]}" for k, v in sorted((detail.get("policy_revisions") or {}).items())
        )
        what = f"review {record.get('state')} at {sha} (policies {revisions or '-'})"
    elif kind == "deploy":
        approvers = ", ".join(detail.get("approvers") or ()) or "-"
        what = (
            f"deploy {record.get('state')} to {record.get('environment')}: {sha} "
            f"(reviewed {(record.get('reviewed_sha') or '-')[:12]}; approvers {approvers})"
        )
    elif kind in ("override", "override.withdrawn"):
        verb = "override" if kind == "override" else "override withdrawn"
        what = f"{verb} of {record.get('rule')} at {sha} by {who}: {record.get('reason') or ''}"
    else:
        verb = str(kind).replace("break_glass.", "break-glass ")
        what = f"{verb} at {sha} by {who}: {record.get('reason') or ''}"
    return f"{record.get('at')}  {where}  {what.rstrip(': ')}"
