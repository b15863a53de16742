"""GitHub test server: the REST endpoints the adapter uses, state in memory, every request
checked against GitHub's OpenAPI description (github_spec.check) and rejected if not allowed.

Responses are GitHub's own `components/examples`, with ids, SHAs, names and URLs adapted.
Served under /api/v3 like GitHub Enterprise Server, so the Enterprise base-URL path is used.
"""

from __future__ import annotations

import itertools
import secrets
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import jwt

from tests.forgeserver import github_spec
from tests.forgeserver.core import Call, ForgeServer, Invalid, Reply
from tests.forgeserver.github_deploy import DeploymentsMixin
from tests.forgeserver.github_governance import GovernanceMixin

BAD_CREDENTIALS = {
    "message": "Bad credentials",
    "documentation_url": "https://docs.github.com/rest",
}
NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubServer(DeploymentsMixin, GovernanceMixin, ForgeServer):
    """In-memory GitHub. Configure with add_pull/add_review/add_comment/...; read the state."""

    prefix = "/api/v3"

    def __init__(
        self, *, app_id: int = 4242, app_slug: str = "gitops-bot", app_public_key: str | None = None
    ) -> None:
        super().__init__()
        self.tokens: dict[str, str] = {}  # token -> login it authenticates
        self.app_id, self.app_slug, self.app_public_key = app_id, app_slug, app_public_key
        self.minted: list[str] = []
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.files: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.reviews: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.comment_on: dict[int, tuple[str, int]] = {}  # comment id -> (repo, PR number)
        self.statuses: list[dict[str, Any]] = []  # {"repo", "sha", **request body}
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.annotations: dict[int, list[dict[str, Any]]] = {}
        self.permissions: dict[tuple[str, str], str] = {}
        self.teams: dict[str, list[dict[str, Any]]] = {}
        self.members: dict[int, list[str]] = {}
        self._ids = itertools.count(1000)
        R = "/repos/{owner}/{repo}"
        for method, pattern, handler in [
            ("GET", "/user", self._user),
            ("GET", "/app", self._app),
            ("POST", "/app/installations/{iid}/access_tokens", self._mint),
            ("GET", R + "/pulls/{n}", self._pull),
            ("GET", R + "/pulls/{n}/files", self._files),
            ("GET", R + "/pulls/{n}/reviews", self._reviews),
            ("GET", R + "/issues/{n}/comments", self._list_comments),
            ("POST", R + "/issues/{n}/comments", self._create_comment),
            ("PATCH", R + "/issues/comments/{cid}", self._edit_comment),
            ("POST", R + "/statuses/{sha}", self._status),
            ("POST", R + "/check-runs", self._create_check),
            ("PATCH", R + "/check-runs/{rid}", self._update_check),
            ("GET", R + "/collaborators/{user}/permission", self._permission),
            ("GET", R + "/teams", self._repo_teams),
            ("GET", "/organizations/{org}/team/{tid}/members", self._team_members),
        ]:
            self.route(method, pattern, handler)
        self.install_deployments()
        self.install_governance()

    # -- checks -----------------------------------------------------------------------------
    def check(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        raw: bytes,
        headers: dict[str, str],
    ) -> None:
        github_spec.check(method, path, query, body, raw, headers)

    def authenticate(self, call: Call, path: str) -> Reply | None:
        auth = call.headers.get("Authorization", "")
        scheme, _, cred = auth.partition(" ")
        if path == "/app" or path.startswith("/app/"):
            # App endpoints take the App's JWT (RS256, iss = app id).
            # https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
            try:
                claims = jwt.decode(cred, self.app_public_key or "", algorithms=["RS256"])
            except jwt.PyJWTError:
                return Reply(401, BAD_CREDENTIALS)
            if scheme != "Bearer" or str(claims.get("iss")) != str(self.app_id):
                return Reply(401, BAD_CREDENTIALS)
            call.user = f"{self.app_slug}[bot]"
            return None
        if scheme.lower() not in ("token", "bearer") or cred not in self.tokens:
            return Reply(401, BAD_CREDENTIALS)
        call.user = self.tokens[cred]
        return None

    # -- helpers for tests ------------------------------------------------------------------
    def user(self, login: str) -> dict[str, Any]:
        """A simple-user object (the pull-request example's `user`) for `login`."""
        u = github_spec.example("pull-request")["user"]
        uid = zlib.crc32(login.encode()) % 10_000_000
        u.update(
            login=login,
            id=uid,
            url=f"{self.url}/users/{login}",
            html_url=f"https://github.com/{login}",
            type="Bot" if login.endswith("[bot]") else "User",
        )
        return dict(u)

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        head_sha: str,
        base_sha: str,
        files: list[str] | None = None,
        renamed: dict[str, str] | None = None,
        author: str = "octocat",
        base_ref: str = "main",
        head_ref: str = "topic",
        fork: str | None = None,
        draft: bool = False,
        labels: tuple[str, ...] = (),
        state: str = "open",
        merged: bool = False,
    ) -> dict[str, Any]:
        """Create pull request `number`; `fork` names the head repository (None: same repo)."""
        pr = github_spec.example("pull-request")
        base_url = f"{self.url}/repos/{repo}"
        pr.update(
            number=number,
            id=next(self._ids),
            state=state,
            draft=draft,
            merged=merged,
            merged_at=pr["merged_at"] if merged else None,  # the example's is not null
            title=f"Change {number}",
            user=self.user(author),
            url=f"{base_url}/pulls/{number}",
            issue_url=f"{base_url}/issues/{number}",
            html_url=f"https://github.com/{repo}/pull/{number}",
            labels=[{**pr["labels"][0], "name": name} for name in labels],
        )
        pr["base"].update(sha=base_sha, ref=base_ref)
        pr["base"]["repo"].update(full_name=repo, name=repo.split("/")[1])
        pr["head"].update(sha=head_sha, ref=head_ref)
        if fork == "":
            pr["head"]["repo"] = None  # the fork was deleted
        else:
            pr["head"]["repo"].update(full_name=fork or repo)
        entries = []
        for name in files or []:
            entries.append(
                {
                    **github_spec.example("diff-entry-items")[0],
                    "filename": name,
                    "status": "modified",
                }
            )
        for old, new in (renamed or {}).items():
            entries.append(
                {
                    **github_spec.example("diff-entry-items")[0],
                    "filename": new,
                    "previous_filename": old,
                    "status": "renamed",
                }
            )
        pr["changed_files"] = len(entries)
        self.pulls[(repo, number)] = pr
        self.files[(repo, number)] = entries
        self.reviews.setdefault((repo, number), [])
        return dict(pr)

    def add_review(self, repo: str, number: int, user: str, state: str, commit_id: str) -> None:
        """A review by `user` on `commit_id` with state APPROVED / CHANGES_REQUESTED / ..."""
        review = github_spec.example("pull-request-review-items")[0]
        review.update(id=next(self._ids), user=self.user(user), state=state, commit_id=commit_id)
        self.reviews[(repo, number)].append(review)

    def add_comment(self, repo: str, number: int, user: str, body: str) -> dict[str, Any]:
        """An issue comment on PR `number` written by `user`."""
        cid = next(self._ids)
        comment = github_spec.example("issue-comment")
        comment.update(
            id=cid,
            body=body,
            user=self.user(user),
            url=f"{self.url}/repos/{repo}/issues/comments/{cid}",
            issue_url=f"{self.url}/repos/{repo}/issues/{number}",
        )
        self.comments[cid] = comment
        self.comment_on[cid] = (repo, number)
        return dict(comment)

    def add_team(self, repo: str, slug: str, members: list[str], permission: str = "push") -> None:
        tid = next(self._ids)
        self.teams.setdefault(repo, []).append(
            {
                "id": tid,
                "node_id": f"T_{tid}",
                "name": slug,
                "slug": slug,
                "description": "",
                "privacy": "closed",
                "permission": permission,
                "url": f"{self.url}/organizations/1/team/{tid}",
                "html_url": f"https://github.com/orgs/{repo.split('/')[0]}/teams/{slug}",
                "members_url": f"{self.url}/organizations/1/team/{tid}/members{{/member}}",
                "repositories_url": f"{self.url}/organizations/1/team/{tid}/repos",
                "parent": None,
            }
        )
        self.members[tid] = list(members)

    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [c for cid, c in self.comments.items() if self.comment_on[cid] == (repo, number)]

    # -- handlers ---------------------------------------------------------------------------
    def _user(self, call: Call) -> Reply:
        return Reply(200, self.user(call.user or ""))

    def _app(self, call: Call) -> Reply:
        return Reply(
            200,
            {
                "id": self.app_id,
                "slug": self.app_slug,
                "node_id": "A_1",
                "name": self.app_slug,
                "owner": self.user("octo-org"),
                "html_url": f"https://github.com/apps/{self.app_slug}",
            },
        )

    def _mint(self, call: Call) -> Reply:
        token = "ghs_" + secrets.token_hex(18)
        self.tokens[token] = f"{self.app_slug}[bot]"
        self.minted.append(token)
        grant = github_spec.example("installation-token")
        grant.update(token=token, expires_at=_iso(time.time() + 3600))
        return Reply(201, grant)

    def _key(self, call: Call) -> tuple[str, int]:
        return f"{call.params['owner']}/{call.params['repo']}", int(call.params["n"])

    def _pull(self, call: Call) -> Reply:
        pr = self.pulls.get(self._key(call))
        return Reply(200, pr) if pr else Reply(404, NOT_FOUND)

    def _files(self, call: Call) -> Reply:
        return self.paginate(
            call,
            f"/repos/{self._key(call)[0]}/pulls/{self._key(call)[1]}/files",
            self.files.get(self._key(call), []),
        )

    def _reviews(self, call: Call) -> Reply:
        repo, n = self._key(call)
        return self.paginate(
            call, f"/repos/{repo}/pulls/{n}/reviews", self.reviews.get((repo, n), [])
        )

    def _list_comments(self, call: Call) -> Reply:
        repo, n = self._key(call)
        return self.paginate(
            call, f"/repos/{repo}/issues/{n}/comments", self.issue_comments(repo, n)
        )

    def _create_comment(self, call: Call) -> Reply:
        repo, n = self._key(call)
        if len(call.body["body"]) > 65536:
            return Reply(422, {"message": "Validation Failed: body is too long"})
        return Reply(201, self.add_comment(repo, n, call.user or "", call.body["body"]))

    def _edit_comment(self, call: Call) -> Reply:
        comment = self.comments.get(int(call.params["cid"]))
        if comment is None:
            return Reply(404, NOT_FOUND)
        # GitHub lets anyone with write access edit any comment, so the server allows it:
        # refusing to edit other people's comments is the bot's job
        # (docs/security.md#the-bot-writes-as-itself).
        comment.update(body=call.body["body"], updated_at=_iso(time.time()))
        return Reply(200, comment)

    def _status(self, call: Call) -> Reply:
        repo = f"{call.params['owner']}/{call.params['repo']}"
        self.statuses.append({"repo": repo, "sha": call.params["sha"], **call.body})
        status = github_spec.example("status")
        status.update(description=None, target_url=None)
        status.update(call.body)
        status.update(
            id=next(self._ids),
            creator=self.user(call.user or ""),
            url=f"{self.url}/repos/{repo}/statuses/{call.params['sha']}",
        )
        return Reply(201, status)

    def _check_reply(self, run: dict[str, Any]) -> Reply:
        return Reply(200, run)

    def _annotate(self, rid: int, output: dict[str, Any] | None) -> None:
        batch = (output or {}).get("annotations") or []
        if len(batch) > 50:
            # "The Checks API limits the number of annotations to a maximum of 50 per API
            # request" (checks/create). A documented limit, not in the schema: checked here.
            raise Invalid(f"{len(batch)} annotations in one request (max 50)")
        self.annotations.setdefault(rid, []).extend(batch)

    def _create_check(self, call: Call) -> Reply:
        rid = next(self._ids)
        run = github_spec.example("check-run")
        body = dict(call.body)
        output = body.pop("output", None)
        run.update(conclusion=None, completed_at=None)
        run.update(body)
        run.update(
            id=rid,
            url=f"{self.url}/repos/{call.params['owner']}/{call.params['repo']}/check-runs/{rid}",
        )
        try:
            self._annotate(rid, output)
        except Invalid as exc:
            self.violations.append(f"POST check-runs: {exc}")
            return Reply(422, {"message": str(exc)})
        run["output"] = {**(output or {}), "annotations_count": len(self.annotations[rid])}
        run["output"].pop("annotations", None)
        self.check_runs[rid] = run
        return Reply(201, run)

    def _update_check(self, call: Call) -> Reply:
        rid = int(call.params["rid"])
        run = self.check_runs.get(rid)
        if run is None:
            return Reply(404, NOT_FOUND)
        body = dict(call.body)
        output = body.pop("output", None)
        try:
            self._annotate(rid, output)
        except Invalid as exc:
            self.violations.append(f"PATCH check-runs: {exc}")
            return Reply(422, {"message": str(exc)})
        run.update(body)
        if output:
            run["output"] = {
                **{k: v for k, v in output.items() if k != "annotations"},
                "annotations_count": len(self.annotations[rid]),
            }
        return Reply(200, run)

    def _permission(self, call: Call) -> Reply:
        repo = f"{call.params['owner']}/{call.params['repo']}"
        perm = self.permissions.get((repo, call.params["user"]), "none")
        return Reply(200, {"permission": perm, "user": self.user(call.params["user"])})

    def _repo_teams(self, call: Call) -> Reply:
        repo = f"{call.params['owner']}/{call.params['repo']}"
        return self.paginate(call, f"/repos/{repo}/teams", self.teams.get(repo, []))

    def _team_members(self, call: Call) -> Reply:
        tid = int(call.params["tid"])
        return self.paginate(
            call,
            f"/organizations/{call.params['org']}/team/{tid}/members",
            [self.user(m) for m in self.members.get(tid, [])],
        )
