"""Comment upserts one at a time per change, across threads, processes and machines.

An upsert lists the bot's comments and creates one when its marker is not found; two jobs
on one change doing that at once would both create. `SerialComments` wraps a Forge so each
upsert holds a lease in the store named after the change while it lists and writes
(docs/security.md#case-108).
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from bot.forges.base import Annotation, Forge
from bot.model import Approval, Change, State
from bot.store import Store

LEASE = 60.0   # renewed while held; a dead holder's lease lapses after this
WAIT = 120.0   # then the job is retried (Transient)


class SerialComments:
    """A Forge whose `upsert_comment` holds the change's comment lease; the rest delegates."""

    def __init__(self, forge: Forge, store: Store, host: str) -> None:
        self._forge, self._store, self._host = forge, store, host
        self.name, self.comment_limit = forge.name, forge.comment_limit

    def __getattr__(self, name: str) -> Any:
        # adapter extras (clone_token, bot_login) pass through
        return getattr(self._forge, name)

    def upsert_comment(self, repo: str, number: int, body: str, marker: str) -> str:
        """The wrapped upsert, alone among the jobs on this change."""
        lock = f"comments:{self.name}:{self._host}/{repo}#{number}"
        with self._store.held(lock, uuid.uuid4().hex, LEASE, wait=WAIT):
            return self._forge.upsert_comment(repo, number, body, marker)

    def get_change(self, repo: str, number: int) -> Change:
        return self._forge.get_change(repo, number)

    def approvals(self, repo: str, number: int) -> list[Approval]:
        return self._forge.approvals(repo, number)

    def can_write(self, repo: str, user: str) -> bool:
        return self._forge.can_write(repo, user)

    def set_status(self, repo: str, sha: str, context: str, state: State, description: str,
                   target_url: str | None = None) -> None:
        self._forge.set_status(repo, sha, context, state, description, target_url)

    def publish_check(self, repo: str, sha: str, name: str, state: State, summary: str,
                      annotations: Sequence[Annotation]) -> None:
        self._forge.publish_check(repo, sha, name, state, summary, annotations)

    def start_deployment(self, repo: str, sha: str, environment: str, description: str) -> str:
        return self._forge.start_deployment(repo, sha, environment, description)

    def finish_deployment(self, repo: str, deployment_id: str, state: State, description: str,
                          environment_url: str | None = None,
                          log_url: str | None = None) -> None:
        self._forge.finish_deployment(repo, deployment_id, state, description,
                                      environment_url, log_url)

    def merged_change_for(self, repo: str, sha: str) -> Change | None:
        return self._forge.merged_change_for(repo, sha)
