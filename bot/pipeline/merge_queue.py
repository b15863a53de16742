"""The merge queue job (GitHub `merge_group`, `checks_requested`): review the queued merge
commit against its base with the base's rules and set `gitops-bot/review` on it, so branch
protection can require the bot in the queue too.

The group's pull requests are the one the queue branch names and the open pull requests
into the same base whose heads the merge commit contains (real git ancestry in the fetched
workspace). `bot.merge_group` decides whether the commit is reviewed and whose approvals
count; deploy on merge then finds a passing review of the merged SHA itself
(`bot.decide.DeployFacts.merged_reviewed`) and needs no merge-skew re-render.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from bot import gitrepo
from bot.errors import GitopsBotError, ToolError, Transient
from bot.forges.base import REVIEW_CONTEXT, Forge
from bot.merge_group import Counted, GroupFacts, Member, counted_approvals, group_gate, queue_entry
from bot.model import Change, Event, ReviewResult, State
from bot.outcomes import ReviewState
from bot.pipeline.job import JobSettings, Outcome, blame_a_full_disk
from bot.pipeline.change import review_change
from bot.pipeline.review import ReviewOptions
from bot.pipeline.workspace import Remote, change_workspace, clone_url, clone_user, workspace_root
from bot.policy import ChangeInfo, PolicyEngine, Review
from bot.redact import redact
from bot.report import render_markdown, status_line
from bot.tools import Tools

log = logging.getLogger(__name__)
PREFIX = "merge queue: "


def is_ancestor(repo: Path, commit: str, of: str) -> bool:
    """Whether `commit` is in the history of `of` (False when `commit` is unknown here)."""
    try:
        gitrepo.git(repo, "merge-base", "--is-ancestor", commit, of)
    except ToolError:
        return False
    return True


class MergeGroupJob:
    """Reviews one merge group's commit; store access through the callbacks."""

    def __init__(
        self,
        settings: JobSettings,
        forge_for: Callable[[Event], Forge],
        passed: Callable[[Event, int, str], bool],
        started: Callable[[Event, int, str], int],
        tools: Tools,
        engine: PolicyEngine,
    ) -> None:
        self.settings, self.forge_for = settings, forge_for
        self.passed, self.started = passed, started
        self.tools, self.engine = tools, engine

    def __call__(self, event: Event) -> Outcome:
        """Review the merge group of `event` (Transient errors propagate for a retry)."""
        entry, base, head = queue_entry(event.ref), event.before or "", event.after or ""
        forge = self.forge_for(event)
        run_id = self.started(event, entry, head) if entry is not None else None
        forge.set_status(
            event.repo, head, REVIEW_CONTEXT, State.PENDING, PREFIX + "reviewing the merge commit"
        )
        try:
            outcome = self._review(event, forge, entry, base, head)
        except Transient:
            raise
        except GitopsBotError as exc:
            blame_a_full_disk(self.settings, exc)
            line = redact(f"{PREFIX}review failed: {exc}")
            forge.set_status(event.repo, head, REVIEW_CONTEXT, State.FAILURE, line)
            outcome = Outcome(
                ReviewState.FAILURE,
                line,
                line,
                head_sha=head,
                audit={"head": head, "base": base, "number": entry, "approvals": []},
            )
        except Exception as exc:
            blame_a_full_disk(self.settings, exc)
            log.exception("review of the merge group %s of %s crashed", head[:12], event.repo)
            forge.set_status(
                event.repo,
                head,
                REVIEW_CONTEXT,
                State.ERROR,
                PREFIX + "internal error; the bot's operators have the details",
            )
            raise
        return Outcome(
            outcome.state,
            outcome.status_line,
            outcome.report,
            outcome.findings,
            None,
            head,
            run_id,
            outcome.audit,
        )

    def _review(
        self, event: Event, forge: Forge, entry: int | None, base: str, head: str
    ) -> Outcome:
        into = [c for c in forge.open_changes(event.repo) if c.base_ref == event.base_ref]
        remote = Remote(
            clone_url(self.settings.clone_url_template, event.host, event.repo),
            self.settings.clone_token(forge),
            self.settings.clone_username or clone_user(forge.name),
        )
        with change_workspace(
            remote.url,
            (base, head),
            token=remote.token,
            username=remote.user,
            root=workspace_root(self.settings.data_dir),
        ) as repo:
            group = [
                c
                for c in into
                if c.number == entry
                or (is_ancestor(repo, c.head_sha, head) and not is_ancestor(repo, c.head_sha, base))
            ]
            members = tuple(
                Member(c.number, c.head_sha, c.author, self.passed(event, c.number, c.head_sha))
                for c in group
            )
            reason = group_gate(GroupFacts(entry, event.base_ref or "", members))
            if reason is not None:
                line = redact(PREFIX + reason)
                forge.set_status(event.repo, head, REVIEW_CONTEXT, State.FAILURE, line)
                return Outcome(
                    ReviewState.FAILURE,
                    line,
                    f"### ❌ {line}\n",
                    [],
                    head_sha=head,
                    audit={
                        "head": head,
                        "base": base,
                        "number": entry,
                        "changes": [c.number for c in group],
                        "approvals": [],
                    },
                )
            counted = counted_approvals(
                members, {m.number: forge.approvals(event.repo, m.number) for m in members}
            )
            result = review_change(
                repo, base, head, self._options(event, repo, group, entry, base, head, counted)
            )
        return self._publish(event, forge, entry, head, group, result, counted)

    def _options(
        self,
        event: Event,
        repo: Path,
        group: list[Change],
        entry: int | None,
        base: str,
        head: str,
        counted: list[Counted],
    ) -> ReviewOptions:
        own = next(c for c in group if c.number == entry)
        info = ChangeInfo(
            author=own.author,
            base_sha=base,
            head_sha=head,
            labels=tuple(sorted({label for c in group for label in c.labels})),
            changed_files=tuple(gitrepo.changed_files(repo, base, head)),
            number=entry,
            title=PREFIX + ", ".join(f"#{c.number}" for c in group),
        )
        # the approvals of the group's pull requests, bound to the commit under review
        reviews = {c.user: Review(c.user, "APPROVED", head, c.teams) for c in counted}
        cache = self.settings.data_dir / "cache" / event.host / event.repo.replace("/", "__")
        return ReviewOptions(
            tools=self.tools,
            cache_dir=cache,
            change=info,
            policy_engine=self.engine,
            reviews=tuple(reviews.values()),
            bot_namespace=self.settings.bot_namespace,
        )

    def _publish(
        self,
        event: Event,
        forge: Forge,
        entry: int | None,
        head: str,
        group: list[Change],
        result: ReviewResult,
        counted: list[Counted],
    ) -> Outcome:
        passed = result.state < State.FAILURE
        state = State.SUCCESS if passed else State.FAILURE
        line = PREFIX + status_line(result)
        link = (
            f"{self.settings.dashboard_url.rstrip('/')}/reviews/{event.host}/{event.repo}/"
            f"{entry}/{head}"
            if self.settings.dashboard_url
            else None
        )
        forge.set_status(event.repo, head, REVIEW_CONTEXT, state, line, target_url=link)
        findings = [f.to_dict() for t in result.targets for f in t.findings]
        findings += [f.to_dict() for f in result.findings]
        audit = {
            "head": head,
            "base": result.base,
            "author": None,
            "number": entry,
            "policy_revisions": dict(result.policy_revisions),
            "changes": [c.number for c in group],
            "approvals": [
                {
                    "user": c.user,
                    "sha": c.approved_sha,
                    "number": c.number,
                    "review_id": c.review_id,
                    "teams": list(c.teams),
                }
                for c in counted
            ],
        }
        return Outcome(
            ReviewState.SUCCESS if passed else ReviewState.FAILURE,
            line,
            render_markdown(result, max_chars=10**9),
            findings,
            head_sha=head,
            audit=audit,
        )
