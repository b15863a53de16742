"""The sweep: recover events the forge never delivered (a bot that was down, a webhook that
failed or was disabled — GitLab disables a hook after repeated failures).

At start and every GITOPS_BOT_SWEEP_INTERVAL seconds, for each allowlisted repository the
bot has had deliveries for: every open change whose head has neither a delivery nor a
finished review gets a review job, and every protected-branch tip that has neither a push
delivery nor a recorded deploy gets a deploy job, and every reviewed head whose approvers
on the forge differ from those its last review counted is reviewed again (an approval given
or withdrawn while the bot was down; `bot.missed` decides). The jobs are stored
as deliveries with a fixed id, so two sweeps never queue the same work twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bot import gitrepo
from bot.config import Config
from bot.errors import GitopsBotError, ToolError
from bot.forges.base import Forge
from bot.metrics import sweep_recovered
from bot.missed import (
    BranchTip,
    OpenChange,
    approvals_to_recover,
    counted_approvals,
    deploys_to_recover,
    reviews_to_recover,
    stopped_deliveries,
)
from bot.model import Change, Event, EventKind
from bot.pipeline.audit import last_counted
from bot.pipeline.deploy import DeployJob
from bot.pipeline.drift import protected_branches
from bot.pipeline.workspace import (
    Remote,
    branch_tip,
    change_workspace,
    clone_url,
    clone_user,
    default_branch,
)
from bot.store import Store, delivery_key, event_to_dict
from bot.store.sweeps import SWEEP_EVENT, SeenRepository

log = logging.getLogger(__name__)
BOT = "gitops-bot"
Enqueue = Callable[[str, dict[str, Any]], None]


@dataclass
class Sweeper:
    """Sweeps every repository the bot has seen; `first` is set once the first sweep ran."""

    config: Config
    store: Store
    enqueue: Enqueue
    forge_for: Callable[[Event], Forge]
    clone_token: Callable[[Forge], str | None]
    first: threading.Event = field(default_factory=threading.Event)

    def sweep(self) -> dict[str, tuple[int, int]]:
        """Sweep every allowlisted repository seen; (reviews, deploys) recovered per repo."""
        recovered = {}
        for seen in self.store.seen_repositories():
            if not self.config.allows(seen.host, seen.repo):
                continue
            try:
                recovered[f"{seen.host}/{seen.repo}"] = self.sweep_repository(seen)
            except (GitopsBotError, ToolError, OSError):
                log.exception("sweep of %s/%s failed", seen.host, seen.repo)
        return recovered

    def _event(self, seen: SeenRepository, **fields: Any) -> Event:
        data = seen.event_data
        return Event(
            forge=seen.forge,
            host=seen.host,
            repo=seen.repo,
            sender=BOT,
            installation_id=data.get("installation_id"),
            project_id=data.get("project_id"),
            **fields,
        )

    def sweep_repository(self, seen: SeenRepository) -> tuple[int, int]:
        """Recover one repository's missed reviews and deploys; how many of each."""
        forge = self.forge_for(
            self._event(seen, delivery_id="sweep", kind=EventKind.PUSH, action=SWEEP_EVENT)
        )
        heads, approvals = self._reviews(seen, forge, forge.open_changes(seen.repo))
        reviews = heads + approvals
        deploys = self._deploys(seen, forge)
        if reviews or deploys:
            detail = stopped_deliveries(
                f"{seen.host}/{seen.repo}",
                heads,
                deploys,
                seen.last_delivery.isoformat(timespec="seconds"),
                approvals,
            )
            log.warning("%s", detail)
            self.store.audit(
                BOT,
                "sweep.recovered",
                f"{seen.host}/{seen.repo}",
                None,
                None,
                {"reviews": reviews, "deploys": deploys, "detail": detail},
            )
        sweep_recovered("review", reviews)
        sweep_recovered("deploy", deploys)
        return reviews, deploys

    def _reviews(
        self, seen: SeenRepository, forge: Forge, changes: list[Change]
    ) -> tuple[int, int]:
        """Queue the reviews missed: (heads never reviewed, heads whose approvers changed)."""
        facts = [self._open_change(seen, forge, c) for c in changes]
        by_number = {c.number: c for c in changes}
        heads = 0
        for missed in reviews_to_recover(facts):
            change = by_number[missed.number]
            heads += self._queue(
                self._review_event(seen, change, f"sweep:review:{change.number}:{change.head_sha}")
            )
        done = 0
        for moved in approvals_to_recover(facts):
            change = by_number[moved.number]
            who = hashlib.sha256(",".join(sorted(moved.approvers_now or ())).encode()).hexdigest()
            done += self._queue(
                self._review_event(
                    seen,
                    change,
                    f"sweep:approvals:{change.number}:{change.head_sha}:{who[:16]}",
                    action="approvals_swept",
                )
            )
        return heads, done

    def _open_change(self, seen: SeenRepository, forge: Forge, change: Change) -> OpenChange:
        """What the store and the forge say of one open change (the forge is asked for its
        approvals only when a review of this head is recorded to compare them with)."""
        reviewed = self.store.reviewed(
            seen.forge, seen.host, seen.repo, change.number, change.head_sha
        )
        delivered = self.store.delivered(
            seen.forge,
            seen.host,
            seen.repo,
            change.head_sha,
            kinds=("review",),
            number=change.number,
        )
        counted = (
            last_counted(self.store, seen.host, seen.repo, change.number, change.head_sha)
            if reviewed
            else None
        )
        now = None
        if counted is not None:
            approvals = forge.approvals(seen.repo, change.number)
            now = frozenset(
                a.user for a in counted_approvals(approvals, change.head_sha, change.author)
            )
        return OpenChange(change.number, change.head_sha, reviewed, delivered, counted, now)

    def _review_event(
        self, seen: SeenRepository, change: Change, delivery_id: str, action: str = SWEEP_EVENT
    ) -> Event:
        return self._event(
            seen,
            delivery_id=delivery_id,
            kind=EventKind.REVIEW,
            action=action,
            number=change.number,
            head_sha=change.head_sha,
            base_ref=change.base_ref,
            is_fork=change.is_fork,
        )

    def _deploys(self, seen: SeenRepository, forge: Forge) -> int:
        remote = Remote(
            clone_url(self.config.clone_url_template, seen.host, seen.repo),
            self.clone_token(forge),
            clone_user(seen.forge),
        )
        home = self.config.data_dir
        default = default_branch(remote.url, remote.token, remote.user, home)
        tip = default and branch_tip(remote.url, default, remote.token, remote.user, home)
        if not tip:
            return 0
        with change_workspace(
            remote.url, (tip,), token=remote.token, username=remote.user, root=home / "workspaces"
        ) as checkout:
            try:
                branches = protected_branches(DeployJob.read_config(checkout, tip))
            except GitopsBotError:
                return 0  # no environments configured: nothing deploys
        tips = {
            b: t
            for b in branches
            if (t := branch_tip(remote.url, b, remote.token, remote.user, home))
        }
        if not tips:
            return 0
        with change_workspace(
            remote.url,
            tuple(sorted(set(tips.values()))),
            token=remote.token,
            username=remote.user,
            root=home / "workspaces",
        ) as checkout:
            facts = [
                BranchTip(
                    b,
                    sha,
                    _committed_at(checkout, sha),
                    self.store.deployed(seen.host, seen.repo, sha),
                    self.store.delivered(seen.forge, seen.host, seen.repo, sha, kinds=("push",)),
                )
                for b, sha in sorted(tips.items())
            ]
        done = 0
        for missed in deploys_to_recover(facts, seen.first_delivery.timestamp()):
            done += self._queue(
                self._event(
                    seen,
                    delivery_id=f"sweep:push:{missed.sha}",
                    kind=EventKind.PUSH,
                    action=SWEEP_EVENT,
                    ref=f"refs/heads/{missed.branch}",
                    after=missed.sha,
                    head_sha=missed.sha,
                )
            )
        return done

    def _queue(self, event: Event) -> int:
        """Store the recovered event as a delivery and queue it (0 when already stored)."""
        if not self.store.record_delivery(event, SWEEP_EVENT):
            return 0
        key = delivery_key(event.forge, event.delivery_id)
        self.enqueue(key, event_to_dict(event))
        log.warning(
            "sweep: queued %s for %s/%s (no delivery came)",
            event.kind.value,
            event.host,
            event.repo,
        )
        return 1


def _committed_at(repo: Any, sha: str) -> float:
    return float(gitrepo.git(repo, "log", "-1", "--format=%ct", sha).decode().strip())


@contextmanager
def sweep_loop(config: Config, store: Store, enqueue: Enqueue) -> Iterator[Sweeper | None]:
    """Sweep now (in the background) and every `config.sweep_interval` seconds while the
    block runs (0: never). Across processes one sweep runs per interval (a lease)."""
    if config.sweep_interval <= 0:
        yield None
        return
    from bot.pipeline.handlers import _clone_token, forge_factory

    sweeper = Sweeper(config, store, enqueue, forge_factory(config), _clone_token)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                if store.acquire_lock("sweep", owner, config.sweep_interval * 0.9):
                    sweeper.sweep()
            except Exception:
                log.exception("sweep failed")
            finally:
                sweeper.first.set()
            if stop.wait(config.sweep_interval):
                return

    thread = threading.Thread(target=run, name="sweep", daemon=True)
    thread.start()
    try:
        yield sweeper
    finally:
        stop.set()
