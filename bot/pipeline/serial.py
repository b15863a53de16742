"""Comment upserts one at a time per change, across threads, processes and machines.

An upsert lists the bot's comments and creates one when its marker is not found; two jobs
on one change doing that at once would both create. `SerialComments` wraps a Forge so each
upsert holds a lease in the store named after the change while it lists and writes
(docs/security.md#case-108).
"""

from __future__ import annotations

import uuid

from bot.forges.base import Forge
from bot.forges.proxy import ForgeProxy
from bot.store import Store

LEASE = 60.0  # renewed while held; a dead holder's lease lapses after this
WAIT = 120.0  # then the job is retried (Transient)


class SerialComments(ForgeProxy):
    """A Forge whose `upsert_comment` holds the change's comment lease; the rest delegates."""

    def __init__(self, forge: Forge, store: Store, host: str) -> None:
        super().__init__(forge)
        self._store, self._host = store, host

    def upsert_comment(self, repo: str, number: int, body: str, marker: str) -> str:
        """The wrapped upsert, alone among the jobs on this change."""
        lock = f"comments:{self.name}:{self._host}/{repo}#{number}"
        with self._store.held(lock, uuid.uuid4().hex, LEASE, wait=WAIT):
            return self._forge.upsert_comment(repo, number, body, marker)
