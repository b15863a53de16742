"""Drift: compare what is live in each environment with its protected branch's render.

Drift is recorded per target with the objects and fields that differ (the store, the
`gitops-bot drift` command and metrics show it). With `self_heal: true` the environment is
re-deployed from the protected branch — only a commit that already deployed successfully
(it passed the review gate then), never anything newer.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot import scratch
from bot.config import Config
from bot.live.base import DeploySource, LiveState, drift
from bot.model import Event, EventKind, ObjectDiff, State, Target
from bot.outcomes import DeployState
from bot.pipeline.deploy import DeployJob
from bot.pipeline.review import ReviewOptions, render_revision
from bot.pipeline.workspace import (
    Remote,
    branch_tip,
    change_workspace,
    clone_url,
    clone_user,
    default_branch,
)
from bot.repo.repo_config import Environment, RepoConfig
from bot.store import Store
from bot.ticker import every

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetDrift:
    """The drift of one target: objects live differs from the branch render."""

    environment: str
    target: str
    objects: tuple[ObjectDiff, ...]
    healed: bool = False

    def as_records(self) -> list[dict[str, object]]:
        """JSON-ready {key, status, changed_fields} per object (no values: Secrets)."""
        return [
            {"key": str(d.key), "status": d.status.value, "changed_fields": list(d.changed_fields)}
            for d in self.objects
        ]


def check_environment(
    repo: Path,
    sha: str,
    env: Environment,
    deploy: DeployJob,
    remote: Remote,
    *,
    heal: bool = False,
    source: str = "",
) -> list[TargetDrift]:
    """Drift of every target of `env` between `sha`'s render and what is live.

    `heal` re-deploys `sha` when anything drifted (the caller decides whether `sha` may be
    deployed: it must be the environment's last successful deploy).
    """
    options = ReviewOptions(
        tools=deploy.tools,
        environment=env.name,
        enforce_approvals=False,
        policy_engine=deploy.engine,
        head_is_protected=True,
        cache_dir=deploy.settings.data_dir / "cache" / "drift",
    )
    result, rendered = render_revision(repo, sha, options)
    if result.state >= State.FAILURE:
        return []  # a broken branch is the review's and the deploy's business, not drift's
    targets: Sequence[Target] = [t.target for t in result.targets]
    deployer = deploy.deployer(env, remote)
    live_state: LiveState = deployer  # type: ignore[assignment]
    live = live_state.read(targets, desired=rendered)
    found = drift({t.id: rendered.get(t.id, ()) for t in targets}, live)
    drifted = {tid: diffs for tid, diffs in found.items() if diffs}
    healed = False
    if heal and drifted:
        outcome = deployer.deploy(
            {t: rendered.get(t.id, ()) for t in targets}, DeploySource(source, sha, None, env.name)
        )
        healed = outcome.ok
    return [
        TargetDrift(env.name, tid, tuple(diffs), healed) for tid, diffs in sorted(drifted.items())
    ]


def environments(config: RepoConfig, only: str | None) -> list[Environment]:
    """The environments to check (all, or the one named)."""
    return [e for e in config.environments if only is None or e.name == only]


def protected_branches(config: RepoConfig) -> list[str]:
    """Each protected branch once."""
    return sorted({e.branch for e in config.environments})


class DriftRunner:
    """Checks the environments of one repository and records what drifted in the store."""

    def __init__(self, deploy: DeployJob, store: Store) -> None:
        self.deploy, self.store = deploy, store

    def run(
        self, forge: str, host: str, repo: str, environment: str | None = None
    ) -> list[TargetDrift]:
        """Check every environment of `host/repo` (or the one named); heal where configured."""
        event = Event(
            forge=forge,
            delivery_id="drift",
            kind=EventKind.PUSH,
            action="drift",
            host=host,
            repo=repo,
            sender="gitops-bot",
        )
        forge_api = self.deploy.forge_for(event)
        settings = self.deploy.settings
        remote = Remote(
            clone_url(settings.clone_url_template, host, repo),
            settings.clone_token(forge_api),
            settings.clone_username or clone_user(forge),
        )
        home = settings.data_dir
        found: list[TargetDrift] = []
        default = default_branch(remote.url, remote.token, remote.user, home)
        if default is None:
            return found
        for branch in self._branches(remote, default):
            tip = branch_tip(remote.url, branch, remote.token, remote.user, home)
            if tip is None:
                continue
            with self._checkout(remote, tip) as checkout:
                config = DeployJob.read_config(checkout, tip)
                for env in environments(config, environment):
                    if env.branch != branch:
                        continue
                    heal = env.self_heal and self._last_deployed(host, repo, env.name) == tip
                    drifted = check_environment(
                        checkout, tip, env, self.deploy, remote, heal=heal, source=repo
                    )
                    self._record(host, repo, env.name, drifted)
                    found += drifted
        return found

    def _checkout(self, remote: Remote, sha: str) -> AbstractContextManager[Path]:
        return change_workspace(
            remote.url,
            (sha,),
            token=remote.token,
            username=remote.user,
            root=self.deploy.settings.data_dir / "workspaces",
        )

    def _branches(self, remote: Remote, default: str) -> list[str]:
        """The protected branches, as the default branch's configuration names them."""
        tip = branch_tip(
            remote.url, default, remote.token, remote.user, self.deploy.settings.data_dir
        )
        if tip is None:
            return []
        with self._checkout(remote, tip) as checkout:
            return protected_branches(DeployJob.read_config(checkout, tip))

    def _last_deployed(self, host: str, repo: str, environment: str) -> str | None:
        done = [
            d
            for d in self.store.deployments(limit=20, repo=repo, environment=environment)
            if d.host == host and d.state == DeployState.SUCCEEDED
        ]
        return done[0].sha if done else None

    def _record(
        self, host: str, repo: str, environment: str, drifted: Sequence[TargetDrift]
    ) -> None:
        for item in drifted:
            self.store.record_drift(
                host, repo, environment, item.target, item.as_records(), healed=item.healed
            )
            self.store.audit(
                "gitops-bot",
                "drift.healed" if item.healed else "drift.found",
                f"{host}/{repo}",
                None,
                None,
                {"environment": environment, "target": item.target, "objects": len(item.objects)},
            )


def drift_runner(config: Config, store: Store) -> DriftRunner:
    """A DriftRunner wired like the service's deploy job."""
    from bot.pipeline.handlers import deploy_job

    return DriftRunner(deploy_job(config, store), store)


def deployed_repos(store: Store) -> list[tuple[str, str, str]]:
    """(forge, host, repo) of every repository with a successful deploy."""
    return sorted(
        {
            (d.forge, d.host, d.repo)
            for d in store.deployments(limit=1000)
            if d.state == DeployState.SUCCEEDED
        }
    )


@contextmanager
def drift_loop(config: Config, store: Store) -> Iterator[None]:
    """While the block runs, check drift every `config.drift_interval` seconds (0: never).

    Each repository is checked by one worker per interval: the first to take its lease
    (which is left to expire, not released) does it.
    """
    if config.drift_interval <= 0:
        yield
        return
    owner = f"{socket.gethostname()}:{os.getpid()}"
    runner = drift_runner(config, store)

    def check_all() -> None:
        for forge, host, repo in deployed_repos(store):
            if not store.acquire_lock(f"drift:{host}/{repo}", owner, config.drift_interval * 0.9):
                continue
            try:
                with scratch.job_dir(config.data_dir, f"drift-{host}-{repo}"):
                    runner.run(forge, host, repo)
            except Exception:
                log.exception("drift check of %s/%s failed", host, repo)

    with every(config.drift_interval, check_all, "drift", join=False):
        yield
