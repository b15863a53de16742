"""GitLabForge: the Forge port over python-gitlab (gitlab.com or self-managed, token auth).

python-gitlab's own retry and rate-limit sleeps are bypassed: a requests response hook turns
429/5xx into `Transient` before python-gitlab sees them, so `bot.errors.retry_after` alone
decides (docs/security.md#forge-rate-limits). Each call names the documented REST endpoint it uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot import markers
from bot.errors import Transient
from bot.forges import payload as p
from bot.forges.base import STATUS_DESCRIPTION_LIMIT, Annotation, ForgeError, field, with_marker
from bot.forges.gitlab_deploy import GitLabDeployments, change_from_mr
from bot.forges.gitlab_governance import GitLabGovernance
from bot.forges.retry import classify
from bot.redact import redact
from bot.model import Approval, Change, State

if TYPE_CHECKING:
    import requests

# https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit (state values)
STATUS_STATE = {
    State.SKIPPED: "success",
    State.SUCCESS: "success",
    State.PENDING: "pending",
    State.WARNING: "success",
    State.FAILURE: "failed",
    State.ERROR: "failed",
}
# Developer (30) and above may push: https://docs.gitlab.com/user/permissions/
DEVELOPER = 30


class GitLabForge(GitLabDeployments, GitLabGovernance):
    """GitLab through python-gitlab with a personal, project or group access token.

    Deployments and the merged MR of a commit come from GitLabDeployments (gitlab_deploy.py),
    open merge requests and group membership from GitLabGovernance (gitlab_governance.py).
    """

    name = "gitlab"
    comment_limit = 1_000_000  # note body limit (Atlantis uses the same figure)

    def __init__(
        self,
        url: str = "https://gitlab.com",
        *,
        token: str,
        bot_username: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        import gitlab
        import requests

        self._token = token
        self._bot = bot_username
        session = requests.Session()
        session.hooks["response"].append(self._transient_hook)
        self._gl = gitlab.Gitlab(
            url.rstrip("/"),
            private_token=token,
            timeout=timeout,
            retry_transient_errors=False,
            per_page=100,
            session=session,
        )

    # -- plumbing ---------------------------------------------------------------------------
    def _transient_hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        text = response.text[:300] if response.status_code >= 400 else ""
        transient = classify(response.status_code, response.headers, text)
        if transient is not None:
            raise transient

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import requests
        from gitlab.exceptions import GitlabError

        try:
            yield
        except GitlabError as exc:
            message = redact(str(exc.error_message), known=(self._token,))[:300]
            raise ForgeError(
                f"GitLab API: HTTP {exc.response_code}: {message}", status=exc.response_code
            ) from None
        except requests.RequestException as exc:
            raise Transient(
                redact(f"GitLab unreachable: {type(exc).__name__}: {exc}", (self._token,))
            ) from None

    def _get(self, path: str, **query: Any) -> Any:
        with self._errors():
            return self._gl.http_get(path, query_data=query or None)

    def _list(self, path: str, **query: Any) -> list[Any]:
        with self._errors():
            return list(self._gl.http_list(path, query_data=query or None, iterator=True))

    @staticmethod
    def _project(repo: str) -> str:
        # Project paths are URL-encoded ids: https://docs.gitlab.com/api/rest/#namespaced-paths
        return "/projects/" + quote(p.repo_name(repo, "repo", max_segments=21), safe="")

    def clone_token(self) -> str:
        """A token `git fetch` may use over HTTPS (GitLab expects user `oauth2`)."""
        return self._token

    def bot_username(self) -> str:
        """The username the token writes as (GET /user)."""
        if self._bot is None:
            self._bot = str(self._get("/user")["username"])
        return self._bot

    # -- the Forge port ---------------------------------------------------------------------
    def get_change(self, repo: str, number: int) -> Change:
        """The merge request now (GET .../merge_requests/:iid) and its files (GET .../diffs)."""
        mr_path = f"{self._project(repo)}/merge_requests/{p.number(number, 'number')}"
        mr = self._get(mr_path)
        refs = mr.get("diff_refs") or {}
        if not refs.get("base_sha"):
            # diff_refs is computed asynchronously right after the MR is created or pushed to
            # (Zuul's GitLab driver polls for the same reason): try again shortly.
            raise Transient("merge request diff is not ready yet", retry_after=5.0)
        files: list[str] = []
        # GET /projects/:id/merge_requests/:iid/diffs (paginated; replaces the deprecated
        # /changes): https://docs.gitlab.com/api/merge_requests/#list-merge-request-diffs
        for diff in self._list(f"{mr_path}/diffs"):
            files.append(diff["new_path"])
            if diff.get("old_path") and diff["old_path"] != diff["new_path"]:
                files.append(diff["old_path"])
        return change_from_mr(
            repo,
            mr,
            tuple(dict.fromkeys(files)),
            mr.get("merge_commit_sha") or mr.get("squash_commit_sha")
            if mr["state"] == "merged"
            else None,
        )

    def approvals(self, repo: str, number: int) -> list[Approval]:
        """Users who approved the MR, bound to the MR's head SHA when they were read.

        GitLab limit: the approvals API (GET .../merge_requests/:iid/approvals,
        https://docs.gitlab.com/api/merge_request_approvals/) says who approved, not which
        commit. The binding is only sound when the project resets approvals on push
        ("Remove all approvals when commits are added to the source branch"); operators must
        enable it. The head SHA is read before and after the approvals, and a move in between
        is Transient, so an approval is never bound to a commit pushed after it was read.
        """
        mr_path = f"{self._project(repo)}/merge_requests/{p.number(number, 'number')}"
        before = p.sha(self._get(mr_path)["sha"], "sha")
        approved = self._get(f"{mr_path}/approvals").get("approved_by") or []
        if p.sha(self._get(mr_path)["sha"], "sha") != before:
            raise Transient("merge request head moved while reading approvals", retry_after=1.0)
        users = [(int(a["user"]["id"]), str(a["user"]["username"])) for a in approved]
        groups = self._groups(repo) if users else {}
        return [
            Approval(
                user=name,
                sha=before,
                teams=tuple(
                    sorted(g for g, gid in groups.items() if self._is_member(f"/groups/{gid}", uid))
                ),
                can_write=self._access(repo, uid) >= DEVELOPER,
            )
            for uid, name in users
        ]

    def team_members(self, repo: str) -> dict[str, tuple[str, ...]]:
        """Group path -> usernames of its Developers and above, for the project's group and
        the groups it is shared with (GET /groups/:id/members/all, inherited members too:
        https://docs.gitlab.com/api/members/#list-all-members-of-a-group-or-project-including-inherited-and-invited-members)."""
        out: dict[str, tuple[str, ...]] = {}
        for path, gid in self._groups(repo).items():
            members = self._list(f"/groups/{gid}/members/all")
            out[path] = tuple(
                sorted(
                    str(m["username"])
                    for m in members
                    if int(m.get("access_level") or 0) >= DEVELOPER
                )
            )
        return out

    def _groups(self, repo: str) -> dict[str, int]:
        """full_path -> id of the project's group namespace and the groups it is shared with."""
        project = self._get(self._project(repo))
        groups: dict[str, int] = {}
        ns = project.get("namespace") or {}
        if ns.get("kind") == "group":
            groups[str(ns["full_path"])] = int(ns["id"])
        for shared in project.get("shared_with_groups") or ():
            groups[str(shared["group_full_path"])] = int(shared["group_id"])
        return groups

    def _is_member(self, where: str, user_id: int) -> bool:
        return self._member(where, user_id) is not None

    def _member(self, where: str, user_id: int) -> dict[str, Any] | None:
        # GET /(projects|groups)/:id/members/all/:user_id includes inherited members:
        # https://docs.gitlab.com/api/members/#get-a-member-of-a-group-or-project-including-inherited-and-invited-members
        try:
            return self._get(f"{where}/members/all/{user_id}")  # type: ignore[no-any-return]
        except ForgeError as exc:
            if exc.status == 404:
                return None
            raise

    def _access(self, repo: str, user_id: int) -> int:
        member = self._member(self._project(repo), user_id)
        return int(member.get("access_level") or 0) if member else 0

    def can_write(self, repo: str, user: str) -> bool:
        """Whether `user` is a Developer or above on the project."""
        found = self._get("/users", username=p.login(user, "user"))
        if not found:
            return False
        return self._access(repo, int(found[0]["id"])) >= DEVELOPER

    def upsert_comment(self, repo: str, number: int, body: str, marker: str) -> str:
        """Edit the bot's own note whose first line is `marker` (never someone else's), else
        create one.

        https://docs.gitlab.com/api/notes/#merge-requests
        """
        text = with_marker(body, marker, self.comment_limit)
        me = self.bot_username()
        notes = f"{self._project(repo)}/merge_requests/{p.number(number, 'number')}/notes"
        for note in self._list(notes):
            author = (note.get("author") or {}).get("username")
            if (
                markers.owns(note.get("body") or "", marker)
                and author == me
                and not note.get("system")
            ):
                if note["body"] != text:
                    with self._errors():
                        self._gl.http_put(f"{notes}/{int(note['id'])}", post_data={"body": text})
                return str(note["id"])
        with self._errors():
            created = self._gl.http_post(notes, post_data={"body": text})
        return str(created["id"])  # type: ignore[index]

    def set_status(
        self,
        repo: str,
        sha: str,
        context: str,
        state: State,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """POST /projects/:id/statuses/:sha with `name` = context."""
        data = {
            "state": STATUS_STATE[state],
            "name": context,
            "description": field(description, STATUS_DESCRIPTION_LIMIT),
        }
        if target_url:
            data["target_url"] = target_url
        try:
            with self._errors():
                self._gl.http_post(
                    f"{self._project(repo)}/statuses/{p.sha(sha, 'sha')}", post_data=data
                )
        except ForgeError as exc:
            # Posting the state a status already has is refused with 400 "Cannot transition
            # status via :run from :running" (and alike): the status is already what we want.
            if exc.status == 400 and "Cannot transition status" in str(exc):
                return
            raise

    def publish_check(
        self,
        repo: str,
        sha: str,
        name: str,
        state: State,
        summary: str,
        annotations: Sequence[Annotation],
    ) -> None:
        """No-op: GitLab has no check-run API; the review note and the status carry the result."""
