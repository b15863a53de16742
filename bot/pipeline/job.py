"""The review job: one change at one head SHA, from forge event to comment and status.

Order matters: pending status first; the change is re-read from the forge (payloads are
hints); work stops when the head moved (a newer job will come); the comment is written
before the final status, so a green status always has its comment.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.decide import (
    ReviewFacts,
    ReviewVerdict,
    approval_candidates,
    asks_review_record,
    asks_team_members,
    asks_write_access,
    review_gate,
    review_verdict,
)
from bot.errors import DiskFull, GitopsBotError, Transient, retry_after
from bot import faults, markers, notices, scratch
from bot.forges.base import REVIEW_CONTEXT, Annotation, Forge
from bot.forges.proxy import ForgeProxy
from bot.metrics import observe_stage, policy_denied
from bot.missed import counted_approvals
from bot.model import Approval, Change, Event, FindingRecord, ReviewResult, Severity, State
from bot.outcomes import ReviewState
from bot.pipeline.live_compare import LiveFor
from bot.pipeline.change import branch_ref, review_change
from bot.pipeline.review import ReviewOptions
from bot.pipeline.workspace import Remote, change_workspace, clone_url, clone_user, workspace_root
from bot.policy import ChangeInfo, EmbeddedEngine, PolicyEngine, Review
from bot.redact import redact
from bot.report import render_markdown, status_line
from bot.tools import Tools

log = logging.getLogger(__name__)

MAX_ANNOTATIONS = 500
LEVEL = {Severity.ERROR: "failure", Severity.WARNING: "warning", Severity.INFO: "notice"}


@dataclass(frozen=True)
class JobSettings:
    """What the review job needs from the server configuration."""

    clone_url_template: str
    data_dir: Path
    fork_mode: str = "validate"  # "validate"/"render": review; "skip": not rendered
    clone_token: Callable[[Forge], str | None] = lambda forge: None
    clone_username: str | None = None  # None: the forge's own (workspace.clone_user)
    dashboard_url: str | None = None  # base URL of the dashboard, for full-report links
    # what is live per environment, for the repository at this remote (None: not compared)
    live_for: Callable[[Remote], LiveFor] | None = None
    # whether a review of (change, head SHA) exists or runs already (one review per SHA)
    reviewed: Callable[[Event, str], bool] = lambda event, sha: False
    # records that the review of (change, head SHA) starts; returns the run's id
    started: Callable[[Event, str], int | None] = lambda event, sha: None
    policy_engine: PolicyEngine | None = None  # None: the embedded regopy engine
    # overrides and break-glass in force at the head (bot.governance.waive); the result and
    # the status description to publish (None: the usual status line)
    waive: Callable[[Event, Change, ReviewResult], tuple[ReviewResult, str | None]] = (
        lambda event, change, result: (result, None)
    )
    bot_namespace: str = ""  # where the bot runs (bot.config.own_namespace)
    # below this much free space on the data disk, a failed review is the disk's fault
    data_min_free_mb: int = 0


def blame_a_full_disk(settings: JobSettings, exc: Exception) -> None:
    """Raise DiskFull from `exc` when the data disk is short of space, so that the queue
    retries the review and nothing is posted (docs/security.md#case-102).

    A tool failing on a full disk does not always say so (git checkout: "unable to write
    file X", no cause), so the disk is asked, not the message.
    """
    if scratch.short_of_space(settings.data_dir, settings.data_min_free_mb):
        raise DiskFull(f"the bot's disk filled during the review: {exc}") from exc


@dataclass(frozen=True)
class Outcome:
    """What a job did, for the store and the logs."""

    state: ReviewState
    status_line: str
    report: str = ""
    findings: Sequence[FindingRecord] | None = None  # None: the review did not finish
    comment_id: str | None = None
    head_sha: str | None = None
    run_id: int | None = None
    # for the audit trail: the approvals read for the review, the change's author and base,
    # the policy revisions that judged it (bot.pipeline.audit records them)
    audit: dict[str, Any] | None = None


class ApprovalsSeen(ForgeProxy):
    """The Forge, remembering the approvals it reported (the ones the review counted)."""

    def __init__(self, forge: Forge) -> None:
        super().__init__(forge)
        self.seen: list[Approval] = []

    def approvals(self, repo: str, number: int) -> list[Approval]:
        self.seen = list(self._forge.approvals(repo, number))
        return self.seen


def audit_facts(change: Change, result: ReviewResult, seen: Sequence[Approval]) -> dict[str, Any]:
    """What the audit trail keeps of a review: the approvals that counted
    (`bot.missed.counted_approvals`) with their review ids, and the policy revisions."""
    return {
        "author": change.author,
        "base": result.base,
        "head": change.head_sha,
        "policy_revisions": dict(result.policy_revisions),
        "approvals": [
            {"user": a.user, "sha": a.sha, "review_id": a.review_id, "teams": list(a.teams)}
            for a in counted_approvals(seen, change.head_sha, change.author)
        ],
    }


def _reviews(forge: Forge, repo: str, number: int) -> tuple[Review, ...]:
    # Approvals from users without write access never count (docs/security.md#case-13).
    return tuple(
        Review(a.user, "APPROVED", a.sha, a.teams)
        for a in forge.approvals(repo, number)
        if a.can_write
    )


def _with_candidates(forge: Forge, repo: str, author: str, result: ReviewResult) -> ReviewResult:
    """The result with, for each missing team approval, who could give it."""
    if not asks_team_members(result.approvals):
        return result
    teams = forge.team_members(repo)
    return dataclasses.replace(
        result,
        approvals=tuple(
            dataclasses.replace(a, candidates=approval_candidates(a, teams, author))
            for a in result.approvals
        ),
    )


def _annotations(result: ReviewResult) -> list[Annotation]:
    """The change's new findings that point at a line of a repository file: each target's,
    then the change rules' (a plaintext Secret value, a deleted volume)."""
    found = [(f"{t.target.id}: ", f) for t in result.targets for f in t.findings]
    found += [("change rule: " if f.rule else "", f) for f in result.findings]
    notes = []
    for title, f in found:  # old problems are the base's: not annotated on the change
        if f.new and f.file and f.line and not f.file.startswith(("helm:", "/")):
            notes.append(
                Annotation(
                    path=f.file,
                    start_line=f.line,
                    level=LEVEL[f.severity],
                    message=redact(f.message)[:4000],
                    title=f"{title}{f.check}",
                )
            )
    return notes[:MAX_ANNOTATIONS]


def _verdict_now(
    forge: Forge, event: Event, head: str, state: State, report: str = ""
) -> tuple[ReviewVerdict, Outcome | None]:
    """What a finished review publishes, from the change as it is now (closed, merged or
    moved meanwhile?), and the outcome to return when it publishes nothing
    (docs/security.md#case-84)."""
    assert event.number is not None
    now = forge.get_change(event.repo, event.number)
    verdict = review_verdict(state, head, now.head_sha, now.state)
    if verdict.set_status:
        return verdict, None
    line = f"not published: the change was {now.state} while it was reviewed"
    return verdict, Outcome(verdict.state, line, report, head_sha=head)


class ReviewJob:
    """Runs the review of one change; forge access through the given factory."""

    def __init__(
        self, settings: JobSettings, forge_for: Callable[[Event], Forge], tools: Tools | None = None
    ) -> None:
        self.settings, self.forge_for = settings, forge_for
        self.tools = tools or Tools.discover()
        # One engine per process: it compiles each policy revision once, not per review.
        self.engine = settings.policy_engine or EmbeddedEngine()

    def __call__(self, event: Event) -> Outcome:
        """Review the change `event` points at; Transient errors propagate for a retry."""
        facts = ReviewFacts(
            event.kind,
            event.action,
            event.number,
            event.head_sha,
            fork_mode=self.settings.fork_mode,
            sender=event.sender,
        )
        if event.number is None:
            gate = review_gate(facts)
            return Outcome(gate.state, gate.status_line, head_sha=gate.head_sha)
        forge = seen = ApprovalsSeen(self.forge_for(event))
        change = forge.get_change(event.repo, event.number)
        facts = dataclasses.replace(
            facts, change_state=change.state, change_head=change.head_sha, is_fork=change.is_fork
        )
        if asks_write_access(facts):
            facts = dataclasses.replace(
                facts, sender_can_write=forge.can_write(event.repo, event.sender)
            )
        if asks_review_record(facts):
            facts = dataclasses.replace(
                facts, already_reviewed=self.settings.reviewed(event, change.head_sha)
            )
        gate = review_gate(facts)
        if gate.state == ReviewState.REFUSED:
            forge.upsert_comment(
                event.repo, event.number, notices.refused(event.sender), markers.REFUSAL
            )
        elif gate.state == ReviewState.FAILURE:  # a fork, not rendered
            forge.set_status(
                event.repo,
                change.head_sha,
                REVIEW_CONTEXT,
                State.FAILURE,
                "not rendered: change from a fork (a maintainer reviews it)",
            )
        if not gate.go:
            return Outcome(gate.state, gate.status_line, head_sha=gate.head_sha)
        head = change.head_sha
        run_id = self.settings.started(event, head)
        faults.point("before_pending")
        forge.set_status(event.repo, head, REVIEW_CONTEXT, State.PENDING, "reviewing the change")
        clock = time.monotonic()
        try:
            result = self._review(event, forge, change)
        except Transient:
            raise
        except Exception as exc:
            blame_a_full_disk(self.settings, exc)
            if isinstance(exc, GitopsBotError):  # a user-fixable problem: say it, fail closed
                outcome = self._fail(forge, event, head, str(exc))
                return dataclasses.replace(outcome, run_id=run_id)
            log.exception("review of %s#%s crashed", event.repo, event.number)
            # The comment says so now; the final `error` status is the queue's last word
            # (bot.pipeline.dead), so the change gets one, not two (docs/security.md#case-61).
            # A failure the queue retries (a full disk) says nothing yet
            # (docs/security.md#case-102).
            if retry_after(exc) is None:
                self._crashed(forge, event)
            raise
        finally:
            observe_stage("review", time.monotonic() - clock)
        found = [*result.findings, *(f for t in result.targets for f in t.findings)]
        policy_denied(sum(f.check == "policy" and f.severity is Severity.ERROR for f in found))
        result, description = self.settings.waive(event, change, result)
        clock = time.monotonic()
        try:
            outcome = self._report(forge, event, change, result, description)
        finally:
            observe_stage("report", time.monotonic() - clock)
        return dataclasses.replace(
            outcome, run_id=run_id, audit=audit_facts(change, result, seen.seen)
        )

    def _review(self, event: Event, forge: Forge, change: Change) -> ReviewResult:
        remote = Remote(
            clone_url(self.settings.clone_url_template, event.host, event.repo),
            self.settings.clone_token(forge),
            self.settings.clone_username or clone_user(forge.name),
        )
        root = workspace_root(self.settings.data_dir)
        # The rules come from the protected branch's tip as it is now (fetched by name, not
        # the SHA a payload or an older API answer named); the proposal is the head merged
        # into it (bot.pipeline.change).
        base = branch_ref(change.base_ref)
        with change_workspace(
            remote.url,
            (change.head_sha,),
            token=remote.token,
            username=remote.user,
            root=root,
            refspecs=(f"+refs/heads/{change.base_ref}:{base}",),
        ) as repo:
            info = ChangeInfo(
                author=change.author,
                base_sha="",
                head_sha=change.head_sha,
                labels=change.labels,
                number=change.number,
                title=change.title,
            )
            cache = self.settings.data_dir / "cache" / event.host / event.repo.replace("/", "__")
            live = self.settings.live_for(remote) if self.settings.live_for else None
            options = ReviewOptions(
                tools=self.tools,
                cache_dir=cache,
                change=info,
                policy_engine=self.engine,
                reviews=_reviews(forge, event.repo, change.number),
                live_for=live,
                repo_urls=(f"https://{event.host}/{event.repo}",),
                bot_namespace=self.settings.bot_namespace,
            )
            result = review_change(repo, base, change.head_sha, options, base_name=change.base_ref)
        return _with_candidates(forge, event.repo, change.author, result)

    def _report(
        self,
        forge: Forge,
        event: Event,
        change: Change,
        result: ReviewResult,
        description: str | None = None,
    ) -> Outcome:
        assert event.number is not None
        head = change.head_sha
        line = description or status_line(result)
        link = (
            f"{self.settings.dashboard_url.rstrip('/')}/reviews/{event.host}/{event.repo}/"
            f"{event.number}/{head}"
            if self.settings.dashboard_url
            else None
        )
        full = render_markdown(result, max_chars=10**9)
        body = render_markdown(result, max_chars=forge.comment_limit - 200, full_report_url=link)
        verdict, skipped = _verdict_now(forge, event, head, result.state, full)
        if skipped is not None:
            return skipped
        if not verdict.publish:
            # The head moved while we worked: the status stays on this SHA only and the
            # comment is left to the newer job, so it never mixes two heads
            # (docs/security.md#case-23).
            forge.set_status(event.repo, head, REVIEW_CONTEXT, verdict.status, line)
            return Outcome(verdict.state, line, full, head_sha=head)
        comment_id = forge.upsert_comment(event.repo, event.number, body, markers.REVIEW)
        faults.point("after_comment")
        forge.publish_check(
            event.repo, head, "gitops-bot review", verdict.status, line, _annotations(result)
        )
        forge.set_status(event.repo, head, REVIEW_CONTEXT, verdict.status, line, target_url=link)
        findings = [f.to_dict() for t in result.targets for f in t.findings]
        findings += [f.to_dict() for f in result.findings]
        return Outcome(verdict.state, line, full, findings, comment_id, head)

    def _fail(self, forge: Forge, event: Event, head: str, error: str) -> Outcome:
        """Report a review stopped by a user-fixable problem, `error`. The forge adapters
        escape and cut the status text; the comment puts the error in a fence
        (bot.notices)."""
        assert event.number is not None
        body = notices.review_failed(error)
        line = redact(f"review failed: {error}")
        verdict, skipped = _verdict_now(forge, event, head, State.FAILURE)
        if skipped is not None:
            return skipped
        if not verdict.publish:  # docs/security.md#case-23
            forge.set_status(event.repo, head, REVIEW_CONTEXT, State.FAILURE, line)
            return Outcome(verdict.state, line, body, head_sha=head)
        comment_id = forge.upsert_comment(event.repo, event.number, body, markers.REVIEW)
        forge.set_status(event.repo, head, REVIEW_CONTEXT, State.FAILURE, line)
        return Outcome(ReviewState.FAILURE, line, body, None, comment_id, head)

    @staticmethod
    def _crashed(forge: Forge, event: Event) -> None:
        """Say in the review comment that the review hit an internal error (its details
        stay in the logs); best effort, the crash itself is what propagates."""
        assert event.number is not None
        try:
            if forge.get_change(event.repo, event.number).state != "open":
                return  # docs/security.md#case-84
            forge.upsert_comment(
                event.repo, event.number, notices.review_failed(None), markers.REVIEW
            )
        except Exception:
            log.warning("could not comment on the crashed review", exc_info=True)
