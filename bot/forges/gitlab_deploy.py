"""GitLab environment deployments and the merged merge request of a commit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from bot.forges import payload as p
from bot.forges.base import ForgeError
from bot.model import Change, State

if TYPE_CHECKING:
    import gitlab

# https://docs.gitlab.com/api/deployments/#update-a-deployment (status: running, success,
# failed, canceled). SKIPPED (a merge superseded by a newer one) becomes `canceled`.
DEPLOYMENT_STATUS = {
    State.PENDING: "running",
    State.SUCCESS: "success",
    State.WARNING: "success",
    State.FAILURE: "failed",
    State.ERROR: "failed",
    State.SKIPPED: "canceled",
}
_MR_STATE = {"opened": "open", "merged": "merged", "closed": "closed", "locked": "closed"}


def _environment(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise ValueError("environment must be a non-empty name of at most 255 characters")
    return name


def change_from_mr(
    repo: str, mr: Mapping[str, Any], files: tuple[str, ...], merge_sha: str | None
) -> Change:
    """A merge request (GET .../merge_requests/:iid, with diff_refs) as a Change; from the
    list endpoint (no diff_refs, `files` empty) the base SHA is left empty."""
    refs = mr.get("diff_refs")
    return Change(
        repo=repo,
        number=p.number(mr["iid"], "iid"),
        title=str(mr["title"]),
        author=str(mr["author"]["username"]),
        base_ref=str(mr["target_branch"]),
        base_sha=p.sha(refs["base_sha"], "diff_refs.base_sha") if refs else "",
        head_sha=p.sha(mr["sha"], "sha"),
        is_fork=mr["source_project_id"] != mr["target_project_id"],
        draft=bool(mr.get("draft") or mr.get("work_in_progress")),
        state=_MR_STATE.get(str(mr["state"]), "closed"),
        labels=tuple(str(label) for label in mr.get("labels") or ()),
        changed_files=files,
        web_url=mr.get("web_url"),
        merge_sha=merge_sha,
    )


class GitLabDeployments:
    """Deployment reporting for GitLabForge (a mixin: it uses the adapter's plumbing).

    GitLab deployments carry no description and no URLs (the environment's external URL is
    set on the environment), so `description`, `environment_url` and `log_url` are accepted
    for the port's sake and not sent; the deploy comment and status carry them.
    """

    if TYPE_CHECKING:
        _gl: gitlab.Gitlab

        def _errors(self) -> AbstractContextManager[None]: ...
        def _get(self, path: str, **query: Any) -> Any: ...
        @staticmethod
        def _project(repo: str) -> str: ...
        def bot_username(self) -> str: ...

    def _iterate(self, path: str, **query: Any) -> Iterator[Any]:
        with self._errors():
            yield from self._gl.http_list(path, query_data=query, iterator=True)

    def start_deployment(
        self, repo: str, sha: str, environment: str, description: str, *, ref: str | None = None
    ) -> str:
        """POST /projects/:id/deployments with status `running`; the deployment's id.

        `ref` (the branch deployed, required by GitLab) defaults to the project's default
        branch. The bot's running deployment of this SHA/environment is reused (upsert).
        https://docs.gitlab.com/api/deployments/#create-a-deployment
        """
        sha, environment = p.sha(sha, "sha"), _environment(environment)
        base = f"{self._project(repo)}/deployments"
        me = self.bot_username()
        # https://docs.gitlab.com/api/deployments/#list-project-deployments
        for found in self._iterate(
            base, environment=environment, status="running", order_by="id", sort="desc"
        ):
            if found.get("sha") == sha and (found.get("user") or {}).get("username") == me:
                return str(found["id"])
        branch = p.branch(ref or self._get(self._project(repo))["default_branch"], "ref")
        with self._errors():
            created = self._gl.http_post(
                base,
                post_data={
                    "environment": environment,
                    "sha": sha,
                    "ref": branch,
                    "tag": False,
                    "status": "running",
                },
            )
        return str(created["id"])  # type: ignore[index]

    def finish_deployment(
        self,
        repo: str,
        deployment_id: str,
        state: State,
        description: str,
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """PUT /projects/:id/deployments/:deployment_id with success / failed / canceled.

        https://docs.gitlab.com/api/deployments/#update-a-deployment
        """
        if not str(deployment_id).isdigit():
            raise ValueError("deployment_id must be the numeric id start_deployment returned")
        path = f"{self._project(repo)}/deployments/{int(deployment_id)}"
        status = DEPLOYMENT_STATUS[state]
        try:
            with self._errors():
                self._gl.http_put(path, post_data={"status": status})
        except ForgeError as exc:
            # A deployment already in that status cannot transition to it again (400): after
            # a retry the outcome is already recorded, which is what we want.
            if exc.status == 400 and self._get(path).get("status") == status:
                return
            raise

    def merged_change_for(self, repo: str, sha: str) -> Change | None:
        """The merged MR whose merge put `sha` on its target branch, else None (direct push).

        GET /projects/:id/repository/commits/:sha/merge_requests
        (https://docs.gitlab.com/api/commits/#list-merge-requests-associated-with-a-commit);
        the MR whose merge_commit_sha (or squash_commit_sha, for a squash without merge
        commit) is `sha` wins, else a merged MR whose head is `sha` (fast-forward merge
        method). Then GET the MR itself for its diff_refs. `changed_files` is left empty.
        """
        sha = p.sha(sha, "sha")
        found = [
            mr
            for mr in self._iterate(
                f"{self._project(repo)}/repository/commits/{sha}/merge_requests"
            )
            if mr.get("state") == "merged"
        ]
        chosen = [
            mr for mr in found if sha in (mr.get("merge_commit_sha"), mr.get("squash_commit_sha"))
        ] or [mr for mr in found if mr.get("sha") == sha]
        if not chosen:
            return None
        iid = p.number(max(chosen, key=lambda mr: str(mr.get("merged_at") or ""))["iid"], "iid")
        mr = self._get(f"{self._project(repo)}/merge_requests/{iid}")
        refs = mr.get("diff_refs") or {}
        if not refs.get("base_sha"):
            raise ForgeError(f"merge request !{iid} has no diff_refs")
        return change_from_mr(repo, mr, (), sha)
