"""The audit trail of reviews, approvals, governance and deploys, in the store's append-only
records (bot.store.audit), and the governance in force at a head, read back from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.config import Config
from bot.governance import RECORD_KINDS, GovRecord, Governance, governance_at, waive
from bot.model import Change, Event, ReviewResult
from bot.outcomes import DeployState, ReviewState
from bot.store import Store

BOT = "gitops-bot"


def governance_records(
    store: Store, host: str, repo: str, number: int, sha: str
) -> list[GovRecord]:
    """The governance actions recorded for one change at one SHA, in order."""
    return [
        GovRecord(
            r.kind,
            r.actor,
            r.sha or "",
            r.at.timestamp(),
            r.rule,
            r.reason or "",
            tuple((r.detail or {}).get("member_of") or ()),
        )
        for r in store.audit_records(
            host=host, repo=repo, number=number, sha=sha, kinds=RECORD_KINDS
        )
        if r.sha == sha
    ]


def governance_for(
    store: Store, config: Config, host: str, repo: str, number: int, sha: str
) -> Governance:
    """What is in force at `sha` of change `number` now."""
    return governance_at(
        governance_records(store, host, repo, number, sha),
        sha,
        store.clock(),
        config.break_glass_window,
    )


def waiver(
    config: Config, store: Store
) -> Callable[[Event, Change, ReviewResult], tuple[ReviewResult, str | None]]:
    """The review job's `waive` setting: apply the governance in force at the head."""

    def apply(
        event: Event, change: Change, result: ReviewResult
    ) -> tuple[ReviewResult, str | None]:
        gov = governance_for(store, config, event.host, event.repo, change.number, change.head_sha)
        waived = waive(result, gov)
        return waived.result, waived.description

    return apply


def deploy_waiver(
    config: Config, store: Store
) -> Callable[[Event, int | None, str | None, ReviewResult], ReviewResult]:
    """The deploy job's `waive` setting: what was given at the reviewed SHA of the merged
    change applies to the re-check of what merged (it was reviewed with it)."""

    def apply(
        event: Event, number: int | None, reviewed: str | None, result: ReviewResult
    ) -> ReviewResult:
        if number is None or reviewed is None:
            return result
        return waive(
            result, governance_for(store, config, event.host, event.repo, number, reviewed)
        ).result

    return apply


def record_review(
    store: Store,
    event: Event,
    number: int,
    state: ReviewState,
    status: str,
    audit: Mapping[str, Any] | None,
    reviewed_sha: str | None = None,
) -> None:
    """A review verdict and the approvals it counted (user, SHA, review id). A review that
    failed before judging (`audit` None) is recorded with its state and status only."""
    audit = audit or {}
    sha = reviewed_sha or audit.get("head")
    if sha is None:
        return
    for a in audit.get("approvals", ()):
        store.append_record(
            "approval",
            event.forge,
            event.host,
            event.repo,
            actor=a["user"],
            number=a.get("number", number),
            sha=sha,
            review_id=a.get("review_id"),
            detail={"teams": a.get("teams", []), "approved_sha": a["sha"]},
        )
    store.append_record(
        "review",
        event.forge,
        event.host,
        event.repo,
        actor=BOT,
        number=number,
        sha=sha,
        state=state,
        detail={
            "status": status,
            "base": audit.get("base"),
            "author": audit.get("author"),
            "policy_revisions": audit.get("policy_revisions", {}),
            "changes": audit.get("changes"),
            "delivery": event.delivery_id,
        },
    )


def approvers(store: Store, host: str, repo: str, sha: str) -> list[str]:
    """Who approved `sha` in the reviews that counted them (from the approval records; a
    merge queue's commit carries the approvals of every pull request in its group)."""
    found = store.audit_records(host=host, repo=repo, sha=sha, kinds=("approval",))
    return sorted({r.actor for r in found if r.sha == sha})


def last_counted(
    store: Store, host: str, repo: str, number: int, sha: str
) -> frozenset[str] | None:
    """Who the last recorded review of change `number` at `sha` counted as approvers (its
    approval records come just before its review record); None when no review is recorded."""
    found = store.audit_records(
        host=host, repo=repo, sha=sha, number=number, kinds=("approval", "review")
    )
    batch: list[str] = []
    last: frozenset[str] | None = None
    for record in found:
        if record.sha != sha:
            continue
        if record.kind == "approval":
            batch.append(record.actor)
        else:
            last, batch = frozenset(batch), []
    return last


def record_deploy(
    store: Store,
    event: Event,
    environment: str,
    sha: str,
    number: int | None,
    reviewed: str | None,
    state: DeployState,
    summary: str,
) -> None:
    """A deploy (or refusal): source SHA, the reviewed SHA that let it in and its approvers."""
    store.append_record(
        "deploy",
        event.forge,
        event.host,
        event.repo,
        actor=BOT,
        number=number,
        sha=sha,
        reviewed_sha=reviewed,
        environment=environment,
        state=state,
        detail={
            "approvers": approvers(store, event.host, event.repo, reviewed) if reviewed else [],
            "summary": summary,
            "pushed_by": event.sender,
        },
    )
