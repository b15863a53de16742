"""The deploy job's record keeping, in the store: review gate look-ups, deployments, the
per-environment lock, the audit trail, and the comment on the merged change."""

from __future__ import annotations

from contextlib import AbstractContextManager

from bot import markers, notices
from bot.forges.base import Forge
from bot.live.base import DeployOutcome
from bot.model import Event
from bot.outcomes import DeployState, ReviewState
from bot.pipeline.audit import record_deploy
from bot.redact import redact
from bot.store import Store

LOCK_TTL = 45.0  # renewed every 15 s while held; a dead holder's lapses after this


def _keys(outcome: DeployOutcome | None) -> tuple[list[str], list[dict[str, str]]]:
    if outcome is None:
        return [], []
    applied = [str(k) for k in (*outcome.applied, *outcome.unchanged)]
    failed = [{"key": str(k), "error": redact(e)} for k, e in outcome.failed]
    failed += [{"key": str(k), "error": "not attempted"} for k in outcome.not_attempted]
    return applied, failed


class StoreLedger:
    """`DeployLedger` over the bot's store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def review_passed(self, event: Event, number: int, head_sha: str) -> bool:
        run = self.store.get_run(event.forge, event.host, event.repo, number, head_sha)
        return run is not None and run.state == ReviewState.SUCCESS

    def already_deployed(self, event: Event, environment: str, sha: str) -> bool:
        done = [
            d
            for d in self.store.deployments(limit=20, repo=event.repo, environment=environment)
            if d.host == event.host and d.state == DeployState.SUCCEEDED
        ]
        return bool(done) and done[0].sha == sha

    def lock(self, event: Event, environment: str) -> AbstractContextManager[None]:
        # Held by the job (its delivery), not the process: when a worker dies mid-deploy,
        # the re-run of the same job takes the lock over at once; other deploys wait.
        owner = f"job:{event.forge}:{event.delivery_id}"
        return self.store.held(f"deploy:{event.host}/{event.repo}:{environment}", owner, LOCK_TTL)

    def record(
        self,
        event: Event,
        environment: str,
        sha: str,
        number: int | None,
        state: DeployState,
        summary: str,
        outcome: DeployOutcome | None,
        *,
        reviewed: str | None = None,
        number_hint: int | None = None,
    ) -> None:
        deployment = self.store.record_deployment(
            event.forge, event.host, event.repo, environment, sha, number, state=DeployState.RUNNING
        )
        applied, failed = _keys(outcome)
        self.store.finish_deployment(deployment, state, redact(summary), applied, failed)
        self.store.audit(
            event.sender,
            f"deploy.{state}",
            f"{event.host}/{event.repo}",
            number,
            sha,
            {"environment": environment, "summary": redact(summary)},
        )
        record_deploy(
            self.store,
            event,
            environment,
            sha,
            number if number is not None else number_hint,
            reviewed,
            state,
            redact(summary),
        )

    def comment(
        self,
        forge: Forge,
        event: Event,
        number: int,
        environment: str,
        sha: str,
        outcome: DeployOutcome,
    ) -> None:
        body = notices.deploy_result(
            environment,
            sha,
            outcome.ok,
            outcome.summary(),
            [(str(k), e) for k, e in outcome.failed],
            [str(k) for k in outcome.not_attempted],
        )
        forge.upsert_comment(event.repo, number, body, markers.deploy(environment))
