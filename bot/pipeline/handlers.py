"""The job handlers of the real pipeline (GITOPS_BOT_JOB_HANDLERS default): review on
change events and recheck commands; pushes and closes are recorded for the deploy step."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Config, own_namespace
from bot.errors import ConfigError
from bot.forges.base import Forge
from bot.live.argocd import ArgoCDClient
from bot.live.argocd_live import ArgoCDLive
from bot.live.base import LiveState
from bot.queue import Handlers, JobContext, audit_only
from bot.model import Event, EventKind
from bot.outcomes import ReviewState
from bot.pipeline.audit import deploy_waiver, record_review, waiver
from bot.pipeline.commands import CommandJob
from bot.pipeline.dead import DeadReview, WithLastWord, finish_dead_run
from bot.pipeline.deploy import DeployJob, DeploySettings
from bot.pipeline.job import JobSettings, ReviewJob
from bot.pipeline.merge_queue import MergeGroupJob
from bot.pipeline.ledger import StoreLedger
from bot.pipeline.serial import SerialComments
from bot.pipeline.live_compare import LiveFor
from bot.pipeline.workspace import Remote
from bot.repo.repo_config import Environment
from bot.policy import PolicyEngine, make_engine
from bot.store import Store
from bot.tools import Tools


def forge_factory(config: Config, store: Store | None = None) -> Callable[[Event], Forge]:
    """Build the forge adapter an event needs, from the server configuration; with a
    `store`, its comment upserts run one at a time per change (bot.pipeline.serial)."""

    def make(event: Event) -> Forge:
        forge = adapter(event)
        return forge if store is None else SerialComments(forge, store, event.host)

    def adapter(event: Event) -> Forge:
        if event.forge == "github":
            from bot.forges.github import GitHubForge

            spacing = config.github_write_spacing or None  # PyGithub: None turns it off
            if config.github_app_id:
                if event.installation_id is None or config.github_private_key_file is None:
                    raise ConfigError(
                        "GitHub App events need an installation id and "
                        "GITOPS_BOT_GITHUB_PRIVATE_KEY_FILE"
                    )
                key = config.github_private_key_file.read_text()
                return GitHubForge(
                    config.github_api_url,
                    app_id=config.github_app_id,
                    private_key=key,
                    installation_id=event.installation_id,
                    seconds_between_writes=spacing,
                )
            if config.github_token is None:
                raise ConfigError("set GITOPS_BOT_GITHUB_TOKEN or a GitHub App")
            return GitHubForge(
                config.github_api_url,
                token=config.github_token.reveal(),
                seconds_between_writes=spacing,
            )
        from bot.forges.gitlab import GitLabForge

        if config.gitlab_token is None:
            raise ConfigError("set GITOPS_BOT_GITLAB_TOKEN")
        return GitLabForge(config.gitlab_url, token=config.gitlab_token.reveal())

    return make


def policy_engine(config: Config) -> PolicyEngine:
    """The policy engine of reviews and deploys (GITOPS_BOT_POLICY_ENGINE, GITOPS_BOT_OPA_URL)."""
    return make_engine(
        config.policy_engine,
        config.opa_url,
        config.opa_token.reveal() if config.opa_token else None,
    )


def _clone_token(forge: Forge) -> str | None:
    return forge.clone_token()


def review_handler(config: Config, store: Store) -> Callable[[Event, JobContext], None]:
    """A job handler running ReviewJob and recording the run in the store; a review job
    that fails for good leaves an `error` status (bot.pipeline.dead)."""
    deploy = deploy_job(config, store)

    def live_for(remote: Remote) -> LiveFor:
        def reader(env: Environment) -> LiveState:
            if config.argocd_url and config.argocd_token is not None:
                # targets from Argo CD Applications: live as Argo CD sees it
                client = ArgoCDClient(config.argocd_url, config.argocd_token)
                return ArgoCDLive(client, lambda: deploy.deployer(env, remote))  # type: ignore
            return deploy.deployer(env, remote)  # type: ignore[return-value]

        return reader

    def reviewed(event: Event, sha: str) -> bool:
        # finished reviews only: a run left RUNNING by a crashed worker is redone, and so is
        # one that ended in an error (its job died, or an internal error stopped it)
        run = (
            None
            if event.number is None
            else store.get_run(event.forge, event.host, event.repo, event.number, sha)
        )
        return run is not None and run.state not in (ReviewState.RUNNING, ReviewState.ERROR)

    def started(event: Event, sha: str) -> int | None:
        if event.number is None:
            return None
        return store.start_run(event.forge, event.host, event.repo, event.number, sha)

    job = ReviewJob(
        JobSettings(
            clone_url_template=config.clone_url_template,
            data_dir=config.data_dir,
            fork_mode=config.fork_mode,
            clone_token=_clone_token,
            live_for=live_for,
            reviewed=reviewed,
            started=started,
            dashboard_url=config.public_url or None,
            policy_engine=policy_engine(config),
            waive=waiver(config, store),
            bot_namespace=own_namespace(config),
            data_min_free_mb=config.data_min_free_mb,
        ),
        forge_factory(config, store),
    )

    def handle(event: Event, ctx: JobContext) -> None:
        outcome = job(event)
        if outcome.run_id is not None:
            ctx.store.finish_run(
                outcome.run_id,
                outcome.state,
                status_line=outcome.status_line,
                findings=outcome.findings,
                report=outcome.report,
                comment_id=outcome.comment_id,
            )
            if event.number is not None:
                record_review(
                    ctx.store,
                    event,
                    event.number,
                    outcome.state,
                    outcome.status_line,
                    outcome.audit,
                    outcome.head_sha,
                )
        ctx.store.audit(
            event.sender,
            f"review.{outcome.state}",
            f"{event.host}/{event.repo}",
            event.number,
            outcome.head_sha,
            {"delivery": ctx.delivery, "status": outcome.status_line},
        )

    dead = DeadReview(forge_factory(config, store))

    def last_word(event: Event, error: BaseException) -> None:
        finish_dead_run(store, event, error)
        dead(event, error)

    return WithLastWord(handle, last_word)


def deploy_job(config: Config, store: Store) -> DeployJob:
    """The deploy job, configured from the server settings."""
    return DeployJob(
        DeploySettings(
            clone_url_template=config.clone_url_template,
            data_dir=config.data_dir,
            clone_token=_clone_token,
            kubeconfig=config.kubeconfig,
            argocd_url=config.argocd_url or None,
            argocd_token=config.argocd_token,
            policy_engine=policy_engine(config),
            waive=deploy_waiver(config, store),
            bot_namespace=own_namespace(config),
        ),
        forge_factory(config, store),
        StoreLedger(store),
    )


def deploy_handler(config: Config, store: Store) -> Callable[[Event, JobContext], None]:
    """A job handler deploying pushes to protected branches (see bot.pipeline.deploy)."""
    job = deploy_job(config, store)

    def handle(event: Event, ctx: JobContext) -> None:
        for result in job(event):
            ctx.store.audit(
                "gitops-bot",
                f"deploy.job.{result.state}",
                f"{event.host}/{event.repo}",
                None,
                event.after,
                {
                    "delivery": ctx.delivery,
                    "environment": result.environment,
                    "summary": result.summary,
                },
            )

    return handle


def command_handler(
    config: Config, store: Store, review: Callable[[Event, JobContext], None]
) -> Callable[[Event, JobContext], None]:
    """A job handler for override / break-glass commands (reviews again with `review`)."""

    def handle(event: Event, ctx: JobContext) -> None:
        CommandJob(
            config, ctx.store, forge_factory(config, ctx.store), lambda again: review(again, ctx)
        )(event)

    return handle


def merge_group_handler(config: Config, store: Store) -> Callable[[Event, JobContext], None]:
    """A job handler reviewing a GitHub merge queue's commit (bot.pipeline.merge_queue)."""

    def passed(event: Event, number: int, sha: str) -> bool:
        run = store.get_run(event.forge, event.host, event.repo, number, sha)
        return run is not None and run.state == ReviewState.SUCCESS

    def started(event: Event, number: int, sha: str) -> int:
        return store.start_run(event.forge, event.host, event.repo, number, sha)

    settings = JobSettings(
        clone_url_template=config.clone_url_template,
        data_dir=config.data_dir,
        clone_token=_clone_token,
        dashboard_url=config.public_url or None,
        bot_namespace=own_namespace(config),
        data_min_free_mb=config.data_min_free_mb,
    )
    job = MergeGroupJob(
        settings,
        forge_factory(config, store),
        passed,
        started,
        Tools.discover(),
        policy_engine(config),
    )

    def handle(event: Event, ctx: JobContext) -> None:
        outcome = job(event)
        if outcome.run_id is not None:
            ctx.store.finish_run(
                outcome.run_id,
                outcome.state,
                status_line=outcome.status_line,
                findings=outcome.findings,
                report=outcome.report,
            )
            record_review(
                ctx.store,
                event,
                int((outcome.audit or {})["number"]),
                outcome.state,
                outcome.status_line,
                outcome.audit,
            )

    return handle


def pipeline_handlers(config: Config, store: Store) -> Handlers:
    """Handlers for `bot.queue.Queue`: reviews for change events, deploys for pushes."""
    review = review_handler(config, store)
    return {
        EventKind.REVIEW: review,
        EventKind.RECHECK: review,
        EventKind.PUSH: deploy_handler(config, store),
        EventKind.CLOSED: audit_only,
        EventKind.COMMAND: command_handler(config, store, review),
        EventKind.MERGE_GROUP: merge_group_handler(config, store),
    }
