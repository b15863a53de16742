"""Deploy on merge: a push to an environment's protected branch deploys that branch's head —
only when it came from a change whose review passed for exactly what was merged.

Order of checks (each refusal is reported loudly and deploys nothing):
1. the pushed SHA must still be the branch tip (a newer push deploys the newer tip: never
   out of order; redelivered or late events are superseded);
2. the commit must belong to a merged change whose review passed (with its approvals) at its
   head SHA; when the merge commit differs from that head, both are rendered and must give
   identical objects (merge-skew guard);
3. the merged SHA is rendered, validated and policy-checked again;
4. one deploy per environment at a time (a lease in the store), re-checking the tip once held.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from bot import gitrepo
from bot.config import Secret
from bot.decide import DeployFacts, asks_merged_review, asks_render_compare, deploy_gate
from bot.errors import ConfigError, GitopsBotError, Transient
from bot.forges.base import DEPLOY_CONTEXT, Forge
from bot.live.argocd import ArgoCD, ArgoCDClient
from bot.live.base import DeployOutcome, Deployer, DeploySource
from bot.live.flux_reconcile import FluxGit
from bot.live.gitbranch import GitBranch, GitCredentials
from bot.live.kubectl import Kubectl
from bot.live.kubernetes import Kubernetes
from bot.model import Event, Manifest, ReviewResult, State
from bot.outcomes import DeployState
from bot.pipeline.review import ReviewOptions, render_revision
from bot.policy import EmbeddedEngine, PolicyEngine
from bot.pipeline.workspace import (
    Remote,
    allowed_protocol,
    branch_tip,
    change_workspace,
    clone_url,
    clone_user,
)
from bot.repo.repo_config import (
    CONFIG_FILE,
    DeployArgoCD,
    DeployGit,
    DeployKubernetes,
    Environment,
    RepoConfig,
    parse_repo_config,
)
from bot.report import status_line
from bot.tools import Tools


@dataclass(frozen=True)
class DeploySettings:
    """Server-side settings of deploys (never from the repository)."""

    clone_url_template: str
    data_dir: Path
    clone_token: Callable[[Forge], str | None] = lambda forge: None
    clone_username: str | None = None  # None: the forge's own (workspace.clone_user)
    kubeconfig: Path | None = None
    argocd_url: str | None = None
    argocd_token: Secret | None = None
    argocd_timeout: float = 600.0
    policy_engine: PolicyEngine | None = None  # None: the embedded regopy engine
    # overrides and break-glass given at the reviewed SHA of change `number` apply to the
    # re-check of what merged (bot.governance.waive); (event, number, reviewed SHA, result)
    waive: Callable[[Event, int | None, str | None, ReviewResult], ReviewResult] = (
        lambda event, number, reviewed, result: result
    )
    bot_namespace: str = ""  # where the bot runs (bot.config.own_namespace)


@dataclass(frozen=True)
class EnvDeploy:
    """The result of deploying (or refusing to deploy) one environment."""

    environment: str
    state: DeployState  # succeeded | failed | refused | superseded | skipped
    summary: str
    outcome: DeployOutcome | None = None
    targets: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


def manifests_digest(rendered: Mapping[str, Sequence[Manifest]]) -> str:
    """A digest of rendered objects per target, independent of source file and line."""
    h = hashlib.sha256()
    for target_id in sorted(rendered):
        bodies = sorted(
            json.dumps(m.body, sort_keys=True, default=str) for m in rendered[target_id]
        )
        h.update(json.dumps([target_id, bodies]).encode())
    return h.hexdigest()


def environments_for(config: RepoConfig, branch: str) -> list[Environment]:
    """Environments whose protected branch is `branch`."""
    return [e for e in config.environments if e.branch == branch]


class DeployJob:
    """Deploys the environments of a pushed protected branch; store access via callbacks."""

    def __init__(
        self,
        settings: DeploySettings,
        forge_for: Callable[[Event], Forge],
        ledger: "DeployLedger",
        tools: Tools | None = None,
    ) -> None:
        self.settings, self.forge_for, self.ledger = settings, forge_for, ledger
        self.tools = tools or Tools.discover()
        # one engine per process: it compiles (or uploads) each policy revision once
        self.engine = settings.policy_engine or EmbeddedEngine()

    def __call__(self, event: Event) -> list[EnvDeploy]:
        """Handle one push event (Transient errors propagate for a retry)."""
        if not event.ref or not event.ref.startswith("refs/heads/") or not event.after:
            return []
        branch, sha = event.ref.removeprefix("refs/heads/"), event.after
        forge = self.forge_for(event)
        remote = Remote(
            clone_url(self.settings.clone_url_template, event.host, event.repo),
            self.settings.clone_token(forge),
            self.settings.clone_username or clone_user(forge.name),
        )
        if self._tip(remote, branch) != sha:
            return [EnvDeploy("*", DeployState.SUPERSEDED, f"{branch} has moved past {sha[:12]}")]
        root = self.settings.data_dir / "workspaces"
        with change_workspace(
            remote.url, (sha,), token=remote.token, root=root, username=remote.user
        ) as repo:
            config = self.read_config(repo, sha)
            envs = environments_for(config, branch)
            if not envs:
                return []
            reasons, number, reviewed = self._gate(event, forge, remote, repo, sha, envs)
            results = []
            for env in envs:
                reason = reasons[env.name]
                if reason is not None:
                    results.append(self._refuse(event, forge, env, sha, reason, number, reviewed))
                else:
                    results.append(
                        self._deploy_env(
                            event, forge, repo, remote, branch, sha, number, env, reviewed
                        )
                    )
            return results

    # -- checks -------------------------------------------------------------------------
    def _tip(self, remote: Remote, branch: str) -> str | None:
        return branch_tip(remote.url, branch, remote.token, remote.user, self.settings.data_dir)

    @staticmethod
    def read_config(repo: Path, sha: str) -> RepoConfig:
        """`.gitops-bot.yaml` as committed at `sha` (a protected branch commit: trusted)."""
        snap = gitrepo.GitSnapshot(repo, sha)
        try:
            text = snap.read(CONFIG_FILE)
        finally:
            snap.close()
        if text is None:
            raise ConfigError(
                f"{CONFIG_FILE} is missing: environments must be configured to deploy"
            )
        return parse_repo_config(text, CONFIG_FILE)

    def _gate(
        self,
        event: Event,
        forge: Forge,
        remote: Remote,
        repo: Path,
        sha: str,
        envs: Sequence[Environment],
    ) -> tuple[dict[str, str | None], int | None, str | None]:
        """Per environment, None when `sha` may deploy there, else the reason it may not
        (`bot.decide.deploy_gate`); plus the number of the change that produced `sha` and
        the SHA whose passing review lets it in (None: none)."""
        change = forge.merged_change_for(event.repo, sha)
        facts = DeployFacts(sha, tuple(e.name for e in envs))
        if change is not None:
            facts = dataclasses.replace(
                facts,
                change_number=change.number,
                change_head=change.head_sha,
                review_passed=self.ledger.review_passed(event, change.number, change.head_sha),
            )
        if change is not None and asks_merged_review(facts):
            facts = dataclasses.replace(
                facts, merged_reviewed=self.ledger.review_passed(event, change.number, sha)
            )
        if change is not None and asks_render_compare(facts):
            facts = dataclasses.replace(
                facts, digests=self._digests(remote, repo, sha, change.head_sha, envs)
            )
        return deploy_gate(facts), facts.change_number, reviewed_sha(facts)

    def _digests(
        self, remote: Remote, repo: Path, sha: str, head: str, envs: Sequence[Environment]
    ) -> dict[str, tuple[str, str]]:
        """Per environment, the digests of what renders at `sha` and at the reviewed `head`
        (merge commit or squash: what merged must render exactly like what was reviewed)."""
        digests = {}
        with change_workspace(
            remote.url,
            (head,),
            token=remote.token,
            username=remote.user,
            root=self.settings.data_dir / "workspaces",
        ) as head_repo:
            for env in envs:
                _, merged = render_revision(repo, sha, self._options(env))
                # the change's head is pull request content: its policies run sandboxed
                _, reviewed = render_revision(head_repo, head, self._options(env, protected=False))
                digests[env.name] = (manifests_digest(merged), manifests_digest(reviewed))
        return digests

    def _options(self, env: Environment, *, protected: bool = True) -> ReviewOptions:
        # What is deployed is rendered afresh from the merged commit: never from a cache.
        return ReviewOptions(
            tools=self.tools,
            environment=env.name,
            enforce_approvals=False,
            policy_engine=self.engine,
            head_is_protected=protected,
            cache_dir=None,
            bot_namespace=self.settings.bot_namespace,
        )

    # -- actions ------------------------------------------------------------------------
    def _refuse(
        self,
        event: Event,
        forge: Forge,
        env: Environment,
        sha: str,
        reason: str,
        number: int | None = None,
        reviewed: str | None = None,
    ) -> EnvDeploy:
        forge.set_status(
            event.repo, sha, DEPLOY_CONTEXT, State.FAILURE, f"not deployed to {env.name}: {reason}"
        )
        self.ledger.record(
            event,
            env.name,
            sha,
            None,
            DeployState.REFUSED,
            reason,
            None,
            reviewed=reviewed,
            number_hint=number,
        )
        return EnvDeploy(env.name, DeployState.REFUSED, reason)

    def _deploy_env(
        self,
        event: Event,
        forge: Forge,
        repo: Path,
        remote: Remote,
        branch: str,
        sha: str,
        number: int | None,
        env: Environment,
        reviewed: str | None = None,
    ) -> EnvDeploy:
        if self.ledger.already_deployed(event, env.name, sha):
            return EnvDeploy(
                env.name, DeployState.SKIPPED, f"{sha[:12]} is already live in {env.name}"
            )
        result, rendered = render_revision(repo, sha, self._options(env))
        result = self.settings.waive(event, number, reviewed, result)
        if result.state >= State.FAILURE:
            reason = f"{sha[:12]} does not pass its checks: {status_line(result)}"
            forge.set_status(event.repo, sha, DEPLOY_CONTEXT, State.FAILURE, reason)
            self.ledger.record(
                event, env.name, sha, number, DeployState.FAILED, reason, None, reviewed=reviewed
            )
            return EnvDeploy(env.name, DeployState.FAILED, reason)
        targets = {t.target: rendered.get(t.target.id, ()) for t in result.targets}
        with self.ledger.lock(event, env.name):
            if self._tip(remote, branch) != sha:  # a newer merge won meanwhile
                return EnvDeploy(
                    env.name, DeployState.SUPERSEDED, f"{branch} moved past {sha[:12]}"
                )
            deployer = self.deployer(env, remote)
            deployment = forge.start_deployment(
                event.repo, sha, env.name, f"gitops-bot deploy of {sha[:12]}"
            )
            try:
                outcome = deployer.deploy(targets, DeploySource(event.repo, sha, number, env.name))
            except GitopsBotError as exc:
                forge.finish_deployment(event.repo, deployment, State.FAILURE, str(exc))
                forge.set_status(
                    event.repo, sha, DEPLOY_CONTEXT, State.FAILURE, f"deploy to {env.name} failed"
                )
                self.ledger.record(
                    event,
                    env.name,
                    sha,
                    number,
                    DeployState.FAILED,
                    str(exc),
                    None,
                    reviewed=reviewed,
                )
                if isinstance(exc, Transient):
                    raise
                return EnvDeploy(env.name, DeployState.FAILED, str(exc))
        state = State.SUCCESS if outcome.ok else State.FAILURE
        summary = (
            f"{'deployed to' if outcome.ok else 'failed to deploy to'} {env.name} "
            f"at {sha[:12]}: {outcome.summary()}"
        )
        forge.finish_deployment(event.repo, deployment, state, summary)
        forge.set_status(event.repo, sha, DEPLOY_CONTEXT, state, summary)
        if number is not None:
            self.ledger.comment(forge, event, number, env.name, sha, outcome)
        verdict = DeployState.SUCCEEDED if outcome.ok else DeployState.FAILED
        self.ledger.record(
            event, env.name, sha, number, verdict, summary, outcome, reviewed=reviewed
        )
        return EnvDeploy(env.name, verdict, summary, outcome, tuple(t.id for t in targets))

    def deployer(self, env: Environment, remote: Remote) -> Deployer:
        """The deployer (and live-state reader) of an environment's deploy target."""
        target = env.deploy or DeployGit(branch=f"env/{env.name}")
        url = remote.url
        creds = GitCredentials(remote.user, Secret(remote.token)) if remote.token else None
        protocols = (allowed_protocol(url),)
        if isinstance(target, DeployGit):
            where = (
                url
                if not target.repository
                else clone_url(self.settings.clone_url_template, url_host(url), target.repository)
            )
            branch = GitBranch(
                where, target.branch, target.path, credentials=creds, allowed_protocols=protocols
            )
            if target.flux is None:
                return branch
            if self.settings.kubeconfig is None:
                raise ConfigError("deploy.flux needs GITOPS_BOT_KUBECONFIG")
            return FluxGit(
                branch,
                Kubectl(
                    self.settings.kubeconfig,
                    target.flux.context,
                    binary=self.tools.require("kubectl"),
                ),
                target.flux,
            )
        if isinstance(target, DeployKubernetes):
            if self.settings.kubeconfig is None:
                raise ConfigError("the kubernetes deploy target needs GITOPS_BOT_KUBECONFIG")
            return Kubernetes(
                self.settings.kubeconfig,
                target.context,
                namespace=target.namespace,
                kubectl=self.tools.require("kubectl"),
            )
        if isinstance(target, DeployArgoCD):
            server = target.server or self.settings.argocd_url
            if not server or self.settings.argocd_token is None:
                raise ConfigError(
                    "the argocd deploy target needs GITOPS_BOT_ARGOCD_URL and "
                    "GITOPS_BOT_ARGOCD_TOKEN"
                )
            git = GitBranch(
                url, f"env/{env.name}", None, credentials=creds, allowed_protocols=protocols
            )
            return ArgoCD(
                git,
                ArgoCDClient(server, self.settings.argocd_token),
                target.application,
                timeout=self.settings.argocd_timeout,
            )
        raise ConfigError(f"unknown deploy target {target!r}")


def reviewed_sha(facts: DeployFacts) -> str | None:
    """The SHA whose passing review lets `facts.sha` in: the merged SHA itself when a merge
    queue reviewed it, else the change's head; None when none did."""
    if facts.merged_reviewed:
        return facts.sha
    return facts.change_head if facts.review_passed else None


def url_host(url: str) -> str:
    """The host part of a clone URL (for another repository on the same forge)."""
    return urlsplit(url).hostname or ""


class DeployLedger(Protocol):
    """What the deploy job records and asks; `bot.pipeline.ledger` keeps it in the store."""

    def review_passed(self, event: Event, number: int, head_sha: str) -> bool:
        """Whether change `number` has a passing review (with approvals) at `head_sha`."""

    def already_deployed(self, event: Event, environment: str, sha: str) -> bool:
        """Whether `sha` is the last successful deploy of `environment`."""

    def lock(self, event: Event, environment: str) -> AbstractContextManager[None]:
        """Hold the environment's deploy lock (Transient when another deploy holds it)."""

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
        """Record a deploy (succeeded / failed / refused) with what was and was not applied;
        `reviewed` is the SHA whose passing review let it in (the audit trail's link)."""

    def comment(
        self,
        forge: Forge,
        event: Event,
        number: int,
        environment: str,
        sha: str,
        outcome: DeployOutcome,
    ) -> None:
        """Tell the merged change what happened."""
