"""GitHub deployments, deployment statuses and the merged pull request of a commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bot.forges import payload as p
from bot.forges.base import STATUS_DESCRIPTION_LIMIT, ForgeError, field
from bot.model import Change, State

if TYPE_CHECKING:
    from github import Github
    from github.PullRequest import PullRequest
    from github.Repository import Repository

T = TypeVar("T")

# https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status (state enum).
# SKIPPED (e.g. a merge superseded by a newer one) becomes `inactive`: not deployed, not failed.
DEPLOYMENT_STATE = {
    State.PENDING: "in_progress",
    State.SUCCESS: "success",
    State.WARNING: "success",
    State.FAILURE: "failure",
    State.ERROR: "error",
    State.SKIPPED: "inactive",
}
# Deployment statuses after which a deployment is still running (reused by a retry).
_RUNNING = frozenset({"in_progress", "queued", "pending"})
# `in_progress`/`inactive`, `log_url` and `environment_url` once needed these preview media
# types (https://docs.github.com/en/rest/deployments/statuses, 2020 description); GitHub
# ignores them today. PyGithub sends the same pair.
_PREVIEWS = "application/vnd.github.ant-man-preview+json, application/vnd.github.flash-preview+json"
TASK = "deploy"


def _environment(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise ValueError("environment must be a non-empty name of at most 255 characters")
    return name


class GitHubDeployments:
    """Deployment reporting for GitHubForge (a mixin: it uses the adapter's plumbing)."""

    if TYPE_CHECKING:

        def _run(self, op: Callable[[Github], T]) -> T: ...
        def _repo(self, gh: Github, repo: str) -> Repository: ...
        def bot_login(self) -> str: ...

    def start_deployment(self, repo: str, sha: str, environment: str, description: str) -> str:
        """A deployment of exactly `sha` to `environment` with status `in_progress`; its id.

        The bot's newest deployment of this SHA/environment is reused while it is still
        running (a retried job must not leave two), so this is an upsert like every write.
        """
        sha, environment = p.sha(sha, "sha"), _environment(environment)
        me = self.bot_login()

        def op(gh: Github) -> int:
            r = self._repo(gh, repo)
            # Listed newest first: https://docs.github.com/en/rest/deployments/deployments#list-deployments
            for found in r.get_deployments(sha=sha, task=TASK, environment=environment):
                if found.creator is None or found.creator.login != me:
                    continue
                latest = next(iter(found.get_statuses()), None)  # newest first, too
                if latest is None or latest.state in _RUNNING:
                    return int(found.id)
                break  # the bot's newest one is finished: this is a new deployment
            # ref = the SHA itself, so the deployment is bound to the reviewed commit, not to
            # whatever the branch points at later. auto_merge=False: never let GitHub merge the
            # default branch into the ref. required_contexts=[]: GitHub would otherwise refuse
            # (409) unless every status context on the commit is green — but the bot itself is
            # the gate: it has already checked the review status and re-checked the merged
            # commit, and its own `gitops-bot/deploy` status is still pending at this point.
            created = r.create_deployment(
                ref=sha,
                task=TASK,
                auto_merge=False,
                required_contexts=[],
                environment=environment,
                description=field(description, STATUS_DESCRIPTION_LIMIT),
            )
            if not isinstance(created.id, int):
                # 202 "Auto-merged ... on deployment" has no id; cannot happen with
                # auto_merge=False, but never hand back a bogus id.
                raise ForgeError("GitHub created no deployment (answer had no id)")
            return created.id

        deployment_id = str(self._run(op))
        self._deployment_status(repo, deployment_id, "in_progress", description, {})
        return deployment_id

    def finish_deployment(
        self,
        repo: str,
        deployment_id: str,
        state: State,
        description: str,
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """Add a deployment status: success / failure / error (PENDING: in_progress).

        `log_url` also sets the legacy `target_url` (GitHub docs); `environment_url` is the
        link GitHub shows on the environment.
        """
        extra = {
            key: value
            for key, value in (("environment_url", environment_url), ("log_url", log_url))
            if value
        }
        self._deployment_status(repo, deployment_id, DEPLOYMENT_STATE[state], description, extra)

    def _deployment_status(
        self, repo: str, deployment_id: str, state: str, description: str, extra: dict[str, str]
    ) -> None:
        # POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses, sent through
        # PyGithub's requester: Deployment.create_status has no `log_url`, and fetching the
        # deployment first would cost a request.
        if not str(deployment_id).isdigit():
            raise ValueError("deployment_id must be the numeric id start_deployment returned")
        path = f"/repos/{p.repo_name(repo, 'repo')}/deployments/{int(deployment_id)}/statuses"
        body: dict[str, Any] = {
            "state": state,
            "description": field(description, STATUS_DESCRIPTION_LIMIT),
            **extra,
        }
        self._run(
            lambda gh: gh.requester.requestJsonAndCheck(
                "POST", path, input=body, headers={"Accept": _PREVIEWS}
            )
        )

    def merged_change_for(self, repo: str, sha: str) -> Change | None:
        """The merged pull request that put `sha` on its base branch, else None (direct push).

        GET /repos/{owner}/{repo}/commits/{sha}/pulls lists "the merged pull request that
        introduced the commit" (https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit).
        The PR whose `merge_commit_sha` is `sha` wins (merge, squash and rebase merges: for a
        rebase it is the commit the base branch was updated to); else a merged PR whose head
        is `sha` (a fast-forward push of the PR branch). `changed_files` is left empty.
        """
        sha = p.sha(sha, "sha")

        def op(gh: Github) -> Change | None:
            pulls = [
                (pr.merged_at, pr)
                for pr in self._repo(gh, repo).get_commit(sha).get_pulls()
                if pr.merged_at is not None
            ]
            chosen = [(at, pr) for at, pr in pulls if pr.merge_commit_sha == sha] or [
                (at, pr) for at, pr in pulls if pr.head.sha == sha
            ]
            if not chosen:
                return None
            return _merged_change(repo, max(chosen, key=lambda item: item[0])[1], sha)

        return self._run(op)


def _merged_change(repo: str, pr: PullRequest, sha: str) -> Change:
    return pull_change(repo, pr, "merged", merge_sha=sha)


def pull_change(repo: str, pr: PullRequest, state: str, merge_sha: str | None = None) -> Change:
    """A pull request PyGithub returned, as the change the bot works with."""
    head_repo = pr.head.repo.full_name if pr.head.repo else None
    base_repo = pr.base.repo.full_name if pr.base.repo else repo
    return Change(
        repo=repo,
        number=pr.number,
        title=pr.title,
        author=pr.user.login,
        base_ref=pr.base.ref,
        base_sha=p.sha(pr.base.sha, "base.sha"),
        head_sha=p.sha(pr.head.sha, "head.sha"),
        is_fork=head_repo != base_repo,
        draft=bool(pr.draft),
        state=state,
        labels=tuple(label.name for label in pr.labels),
        web_url=pr.html_url,
        merge_sha=merge_sha,
    )
