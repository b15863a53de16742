"""The governance command job: the override and break-glass comment commands.

The facts come from where they are true at the time of the command: the change and the
sender's team / group membership from the forge, the rules denying the head from its last
finished review, the overrides and break-glass in force from the append-only records.
`bot.governance` decides; this job records, answers on the change, and has the head
reviewed again when its status changes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from bot.commands import CommandError, parse_command
from bot.config import Config
from bot.forges.base import Forge
from bot.authority import (
    CommandFacts,
    CommandVerdict,
    command_verdict,
    denied_rules,
    groups_to_check,
)
from bot.governance import CONFIRMED, REQUESTED, WITHDRAWN
from bot.model import Change, Event, EventKind
from bot.outcomes import ReviewState
from bot.pipeline.audit import governance_for
from bot import markers, notices
from bot.redact import redact
from bot.store import Store

log = logging.getLogger(__name__)
ReviewAgain = Callable[[Event], None]


class CommandJob:
    """Runs one governance command; `review` reviews the head again (the review handler)."""

    def __init__(
        self, config: Config, store: Store, forge_for: Callable[[Event], Forge], review: ReviewAgain
    ) -> None:
        self.config, self.store, self.forge_for, self.review = config, store, forge_for, review

    def __call__(self, event: Event) -> CommandVerdict:
        assert event.number is not None
        forge = self.forge_for(event)
        try:
            command = parse_command(event.comment or "")
        except CommandError as exc:
            return self._refuse(forge, event, CommandVerdict(False, str(exc)))
        change = forge.get_change(event.repo, event.number)
        facts = CommandFacts(
            command,
            event.sender,
            change.state,
            governance_for(
                self.store, self.config, event.host, event.repo, change.number, change.head_sha
            ),
            self.config.break_glass_group,
            self.config.break_glass_window,
            self._denied(event, change),
        )
        member_of = tuple(
            g for g in groups_to_check(facts) if forge.is_member(event.repo, event.sender, g)
        )
        verdict = command_verdict(dataclasses.replace(facts, member_of=member_of))
        if not verdict.accepted:
            return self._refuse(forge, event, verdict)
        assert verdict.record is not None
        self.store.append_record(
            verdict.record,
            event.forge,
            event.host,
            event.repo,
            actor=event.sender,
            number=change.number,
            sha=change.head_sha,
            rule=verdict.rule,
            reason=verdict.reason or None,
            detail={
                "command": event.comment,
                "member_of": member_of,
                "delivery": event.delivery_id,
            },
        )
        log.warning(
            "governance: %s by %s on %s#%s at %s",
            verdict.record,
            event.sender,
            event.repo,
            change.number,
            change.head_sha[:12],
        )
        if verdict.record in (REQUESTED, CONFIRMED, WITHDRAWN):
            state = {REQUESTED: "requested", CONFIRMED: "confirmed"}.get(
                verdict.record, "withdrawn"
            )
            forge.upsert_comment(
                event.repo,
                change.number,
                notices.break_glass(state, redact(verdict.message), change.head_sha),
                markers.BREAK_GLASS,
            )
        if verdict.review_again:
            self.review(
                dataclasses.replace(
                    event,
                    kind=EventKind.REVIEW,
                    action="governance",
                    head_sha=change.head_sha,
                    delivery_id=f"{event.delivery_id}:governance",
                    comment=None,
                )
            )
        return verdict

    def _denied(self, event: Event, change: Change) -> dict[str, tuple[str, ...]] | None:
        run = self.store.get_run(
            event.forge, event.host, event.repo, change.number, change.head_sha
        )
        if run is None or run.state == ReviewState.RUNNING or run.findings is None:
            return None
        return denied_rules(run.findings)

    def _refuse(self, forge: Forge, event: Event, verdict: CommandVerdict) -> CommandVerdict:
        assert event.number is not None
        self.store.audit(
            event.sender,
            "command.refused",
            f"{event.host}/{event.repo}",
            event.number,
            None,
            {"command": event.comment, "reason": verdict.message},
        )
        forge.upsert_comment(
            event.repo,
            event.number,
            notices.command_refused(event.sender, event.comment or "", redact(verdict.message)),
            markers.REFUSAL,
        )
        return verdict
