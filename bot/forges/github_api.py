"""GitHubForge: the Forge port over PyGithub (github.com or Enterprise, App or token auth).

PyGithub is imported lazily (≈160 ms, docs/architecture.md#costs-that-shape-the-code). Its
own retries and rate-limit sleeps are off (`retry=None`): failures become `Transient`/
`ForgeError` here and `bot.errors.retry_after` alone decides what happens next
(docs/security.md#forge-rate-limits).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from bot import markers
from bot.errors import Transient
from bot.forges import payload as p
from bot import markdown as md
from bot.forges.base import (
    STATUS_DESCRIPTION_LIMIT,
    Annotation,
    ForgeError,
    cut,
    field,
    with_marker,
)
from bot.forges.github_deploy import GitHubDeployments
from bot.forges.github_governance import GitHubGovernance
from bot.forges.retry import classify
from bot.redact import redact
from bot.model import Approval, Change, State

if TYPE_CHECKING:
    from github import Github
    from github.GithubException import GithubException
    from github.Repository import Repository

T = TypeVar("T")

# https://docs.github.com/en/rest/commits/statuses#create-a-commit-status (state enum)
STATUS_STATE = {
    State.SKIPPED: "success",
    State.SUCCESS: "success",
    State.PENDING: "pending",
    State.WARNING: "success",
    State.FAILURE: "failure",
    State.ERROR: "error",
}
# https://docs.github.com/en/rest/checks/runs#create-a-check-run (conclusion enum); None means
# "still running" (status in_progress, no conclusion).
CHECK_CONCLUSION: dict[State, str | None] = {
    State.SKIPPED: "skipped",
    State.SUCCESS: "success",
    State.PENDING: None,
    State.WARNING: "neutral",
    State.FAILURE: "failure",
    State.ERROR: "failure",
}
# "The Checks API limits the number of annotations to a maximum of 50 per API request."
ANNOTATIONS_PER_REQUEST = 50
# Check-run output limits (https://docs.github.com/en/rest/checks/runs#create-a-check-run):
# summary "Maximum length: 65535 characters"; annotation message and raw_details "64 KB";
# annotation title "255 characters". The output title has no documented limit: 255 too.
SUMMARY_LIMIT = 65535
ANNOTATION_MESSAGE_LIMIT = 64000
ANNOTATION_TITLE_LIMIT = 255
OUTPUT_TITLE_LIMIT = 255
# pulls/list-files: "Responses include a maximum of 3000 files."
MAX_LISTED_FILES = 3000
_WRITE_ROLES = frozenset({"admin", "write"})  # `maintain` is reported as "write" here
# A team's permission on a repository (GET /repos/{owner}/{repo}/teams): these may push.
_TEAM_WRITE = frozenset({"push", "maintain", "admin"})
_REVIEW_VERDICTS = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})
_TOKEN_MARGIN = 300.0  # mint a new installation token 5 minutes before it expires


class GitHubForge(GitHubDeployments, GitHubGovernance):
    """GitHub through PyGithub. Give `token` (PAT / token mode) or `app_id` + `private_key` +
    `installation_id` (GitHub App mode, which also publishes check runs). Deployments and
    the merged pull request of a commit come from GitHubDeployments (github_deploy.py), open
    pull requests and team membership from GitHubGovernance (github_governance.py)."""

    name = "github"
    comment_limit = 65536  # issue comment body limit (GitHub answers 422 above it)

    def __init__(
        self,
        api_url: str = "https://api.github.com",
        *,
        token: str | None = None,
        app_id: int | str | None = None,
        private_key: str | None = None,
        installation_id: int | None = None,
        bot_login: str | None = None,
        timeout: int = 30,
        seconds_between_writes: float | None = 1.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._app = app_id is not None
        if self._app == (token is not None) or (
            self._app and not (private_key and installation_id)
        ):
            raise ValueError("give either token, or app_id + private_key + installation_id")
        self.api_url = api_url.rstrip("/")
        self._token, self._app_id, self._key = token, app_id, private_key
        self._installation_id = installation_id
        self._bot_login = bot_login
        self._timeout, self._write_gap, self._now = timeout, seconds_between_writes, now
        self._gh: Github | None = None
        self._token_expires = float("inf")
        self.tokens_minted = 0

    # -- plumbing ---------------------------------------------------------------------------
    def _common(self) -> dict[str, Any]:
        return {
            "base_url": self.api_url,
            "timeout": self._timeout,
            "retry": None,
            "per_page": 100,
            "seconds_between_requests": None,
            "seconds_between_writes": self._write_gap,
            "lazy": True,
        }

    def _integration(self) -> Any:
        from github import Auth, GithubIntegration

        assert self._app_id is not None and self._key is not None
        return GithubIntegration(auth=Auth.AppAuth(self._app_id, self._key), **self._common())

    def _client(self) -> Github:
        from github import Auth, Github

        if self._app and (self._gh is None or self._now() > self._token_expires - _TOKEN_MARGIN):
            # Installation tokens live one hour; mint our own so a 401 can force a new one.
            # https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation
            assert self._installation_id is not None
            grant = self._integration().get_access_token(self._installation_id)
            self.tokens_minted += 1
            self._token = grant.token
            self._token_expires = (
                grant.expires_at.timestamp() if grant.expires_at else self._now() + 3600
            )
            self._gh = None
        if self._gh is None:
            assert self._token is not None
            self._gh = Github(auth=Auth.Token(self._token), **self._common())
        return self._gh

    def _run(self, op: Callable[[Github], T]) -> T:
        """Run `op` with a client; translate failures; on a 401 in App mode mint once more."""
        import requests
        from github.GithubException import GithubException

        for attempt in (1, 2):
            try:
                return op(self._client())
            except GithubException as exc:
                if exc.status == 401 and self._app and attempt == 1:
                    self._gh, self._token_expires = None, float("-inf")  # docs/security.md#case-94
                    continue
                raise self._translate(exc) from None
            except requests.RequestException as exc:
                raise Transient(
                    self._scrub(f"GitHub unreachable: {type(exc).__name__}: {exc}")
                ) from None
        raise AssertionError("unreachable")

    def clone_token(self) -> str:
        """A token `git fetch` may use over HTTPS (user `x-access-token`), minted if needed."""
        self._client()
        assert self._token is not None
        return self._token

    def _scrub(self, text: str) -> str:
        return redact(text, known=[s for s in (self._token, self._key) if s])

    def _translate(self, exc: GithubException) -> Exception:
        data = exc.data if isinstance(exc.data, dict) else {}
        message = self._scrub(str(data.get("message") or exc.message or ""))[:300]
        transient = classify(exc.status, exc.headers, message, now=self._now)
        if transient is not None:
            return transient
        return ForgeError(f"GitHub API: HTTP {exc.status}: {message}", status=exc.status)

    def _repo(self, gh: Github, repo: str) -> Repository:
        return gh.get_repo(p.repo_name(repo, "repo"))

    def bot_login(self) -> str:
        """The login the bot writes as: the token's user, or `<app-slug>[bot]` for an App."""
        if self._bot_login is None:
            if self._app:
                slug = self._run(lambda gh: self._integration().get_app().slug)
                self._bot_login = f"{slug}[bot]"
            else:
                self._bot_login = self._run(lambda gh: gh.get_user().login)
        return self._bot_login

    # -- the Forge port ---------------------------------------------------------------------
    def get_change(self, repo: str, number: int) -> Change:
        """The pull request now, with every changed path (old and new names of renames)."""

        def op(gh: Github) -> Change:
            pull = self._repo(gh, repo).get_pull(number)
            files: list[str] = []
            listed = 0
            for f in pull.get_files():
                listed += 1
                files.append(f.filename)
                if f.previous_filename:
                    files.append(f.previous_filename)
            if pull.changed_files > MAX_LISTED_FILES or listed < pull.changed_files:
                # An incomplete file list could skip an affected target: fail closed
                # (docs/security.md#fail-closed).
                raise ForgeError(
                    f"pull request changes {pull.changed_files} files; GitHub "
                    f"lists at most {MAX_LISTED_FILES}"
                )
            head_repo = pull.head.repo.full_name if pull.head.repo else None
            return Change(
                repo=repo,
                number=number,
                title=pull.title,
                author=pull.user.login,
                base_ref=pull.base.ref,
                base_sha=p.sha(pull.base.sha, "base.sha"),
                head_sha=p.sha(pull.head.sha, "head.sha"),
                is_fork=head_repo != pull.base.repo.full_name,
                draft=bool(pull.draft),
                state="merged" if pull.merged else pull.state,
                labels=tuple(label.name for label in pull.labels),
                changed_files=tuple(dict.fromkeys(files)),
                web_url=pull.html_url,
                merge_sha=pull.merge_commit_sha if pull.merged else None,
            )

        return self._run(op)

    def approvals(self, repo: str, number: int) -> list[Approval]:
        """Each reviewer's latest verdict, if APPROVED, bound to the commit it reviewed.

        A later "changes requested" or a dismissal cancels an approval; comments do not
        (https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/reviewing-changes-in-pull-requests/about-pull-request-reviews).
        An approval of an older commit keeps that commit's SHA: the caller decides.
        """

        def op(gh: Github) -> list[tuple[str, str, str]]:
            latest: dict[str, tuple[str, str, str]] = {}
            for review in self._repo(gh, repo).get_pull(number).get_reviews():
                if review.user is not None and review.state in _REVIEW_VERDICTS:
                    latest[review.user.login] = (review.state, review.commit_id, str(review.id))
            return [
                (user, sha, rid)
                for user, (state, sha, rid) in latest.items()
                if state == "APPROVED"
            ]

        approved = self._run(op)
        if not approved:
            return []
        teams = self._teams(repo)
        return [
            Approval(
                user=user,
                sha=p.sha(sha, "review.commit_id"),
                teams=tuple(sorted(t for t, members in teams.items() if user in members)),
                can_write=self.can_write(repo, user),
                review_id=review_id,
            )
            for user, sha, review_id in approved
        ]

    def _teams(self, repo: str) -> dict[str, set[str]]:
        """`org/team-slug` -> member logins, for the teams that have access to `repo`."""
        from github.GithubException import UnknownObjectException

        owner = repo.split("/")[0]

        def op(gh: Github) -> dict[str, set[str]]:
            try:
                teams = list(self._repo(gh, repo).get_teams())
            except UnknownObjectException:
                return {}  # a user-owned repository has no teams
            return {f"{owner}/{t.slug}": {m.login for m in t.get_members()} for t in teams}

        return self._run(op)

    def team_members(self, repo: str) -> dict[str, tuple[str, ...]]:
        """`org/slug` -> member logins, for the teams with push, maintain or admin permission
        on `repo` (GET /repos/{owner}/{repo}/teams, then each team's members)."""
        from github.GithubException import UnknownObjectException

        owner = repo.split("/")[0]

        def op(gh: Github) -> dict[str, tuple[str, ...]]:
            try:
                teams = list(self._repo(gh, repo).get_teams())
            except UnknownObjectException:
                return {}
            return {
                f"{owner}/{t.slug}": tuple(sorted(m.login for m in t.get_members()))
                for t in teams
                if t.permission in _TEAM_WRITE
            }

        return self._run(op)

    def can_write(self, repo: str, user: str) -> bool:
        """Whether `user` has write, maintain or admin permission on `repo`."""
        from github.GithubException import UnknownObjectException

        def op(gh: Github) -> bool:
            try:
                role = self._repo(gh, repo).get_collaborator_permission(p.login(user, "user"))
            except UnknownObjectException:
                return False
            return role in _WRITE_ROLES

        return self._run(op)

    def upsert_comment(self, repo: str, number: int, body: str, marker: str) -> str:
        """Edit the bot's own comment whose first line is `marker` (never someone else's,
        never one that only quotes the marker), else create one."""
        text = with_marker(body, marker, self.comment_limit)
        me = self.bot_login()

        def op(gh: Github) -> str:
            issue = self._repo(gh, repo).get_issue(number)
            for comment in issue.get_comments():
                if (
                    markers.owns(comment.body or "", marker)
                    and comment.user
                    and comment.user.login == me
                ):
                    if comment.body != text:
                        comment.edit(text)
                    return str(comment.id)
            return str(issue.create_comment(text).id)

        return self._run(op)

    def set_status(
        self,
        repo: str,
        sha: str,
        context: str,
        state: State,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Create the commit status `context` on `sha` (the latest one per context wins)."""
        extra = {"target_url": target_url} if target_url else {}
        self._run(
            lambda gh: (
                self._repo(gh, repo)
                .get_commit(p.sha(sha, "sha"))
                .create_status(
                    state=STATUS_STATE[state],
                    context=context,
                    description=field(description, STATUS_DESCRIPTION_LIMIT),
                    **extra,
                )
            )
        )

    def publish_check(
        self,
        repo: str,
        sha: str,
        name: str,
        state: State,
        summary: str,
        annotations: Sequence[Annotation],
    ) -> None:
        """A new check run per call (App mode only): 50 annotations, then more by updates.

        A fresh run rather than an update of the previous one, because annotations sent in
        an update are appended to the run's existing ones.
        """
        if not self._app:
            return  # check runs need a GitHub App; token mode reports with statuses only
        batches = [
            annotations[i : i + ANNOTATIONS_PER_REQUEST]
            for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
        ] or [[]]
        conclusion = CHECK_CONCLUSION[state]
        status = "completed" if conclusion else "in_progress"
        from github.GithubObject import NotSet

        def output(batch: Sequence[Annotation]) -> dict[str, Any]:
            # summary is Markdown on GitHub: the plain text is escaped for it.
            return {
                "title": field(name, OUTPUT_TITLE_LIMIT),
                "summary": cut(md.text(summary), SUMMARY_LIMIT),
                "annotations": [_annotation(a) for a in batch],
            }

        def op(gh: Github) -> None:
            run = self._repo(gh, repo).create_check_run(
                name=field(name, OUTPUT_TITLE_LIMIT),
                head_sha=p.sha(sha, "sha"),
                status=status,
                conclusion=conclusion or NotSet,
                output=output(batches[0]),
            )
            for batch in batches[1:]:
                run.edit(output=output(batch))

        self._run(op)


def _annotation(a: Annotation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": a.path,
        "start_line": a.start_line,
        "end_line": a.end_line or a.start_line,
        "annotation_level": a.level,
        "message": field(a.message, ANNOTATION_MESSAGE_LIMIT, multiline=True),
    }
    if a.title:
        out["title"] = field(a.title, ANNOTATION_TITLE_LIMIT)
    return out
