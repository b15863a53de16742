"""GitHub: the open pull requests of a repository and team membership (mixed into
GitHubForge). Both serve governance: the sweep that recovers missed events, and the
authority of override and break-glass commands, read from GitHub when the command comes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bot.forges import payload as p
from bot.forges.base import ForgeError
from bot.forges.github_deploy import pull_change
from bot.model import Change

if TYPE_CHECKING:
    from github import Github
    from github.PullRequest import PullRequest
    from github.Repository import Repository

T = TypeVar("T")
_SLUG = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def team_of(repo: str, group: str) -> tuple[str, str]:
    """(org, team slug) of a group spelled `org/slug` or `slug` (the repository's owner)."""
    org, _, slug = group.strip().rpartition("/")
    org = org or repo.split("/")[0]
    if not (_SLUG.fullmatch(org) and _SLUG.fullmatch(slug)):
        raise ForgeError(f"{group!r} is not a GitHub team (org/slug)")
    return org, slug


class GitHubGovernance:
    """Open pull requests and team membership for GitHubForge (uses its plumbing)."""

    if TYPE_CHECKING:

        def _run(self, op: Callable[[Github], T]) -> T: ...
        def _repo(self, gh: Github, repo: str) -> Repository: ...

    def open_changes(self, repo: str) -> list[Change]:
        """GET /repos/{owner}/{repo}/pulls?state=open (pull-request-simple items)
        https://docs.github.com/en/rest/pulls/pulls#list-pull-requests"""
        return self._run(
            lambda gh: [_listed(repo, pr) for pr in self._repo(gh, repo).get_pulls(state="open")]
        )

    def is_member(self, repo: str, user: str, group: str) -> bool:
        """GET /orgs/{org}/teams/{team_slug}/memberships/{username}: 404 for non-members,
        `state` "pending" for an invitation not yet accepted (not a member yet).
        https://docs.github.com/en/rest/teams/members#get-team-membership-for-a-user"""
        from github.GithubException import UnknownObjectException

        org, slug = team_of(repo, group)
        login = p.login(user, "user")

        def op(gh: Github) -> Any:
            try:
                _, data = gh.requester.requestJsonAndCheck(
                    "GET", f"/orgs/{org}/teams/{slug}/memberships/{login}"
                )
            except UnknownObjectException:
                return None
            return data

        data = self._run(op)
        return isinstance(data, dict) and data.get("state") == "active"


def _listed(repo: str, pr: PullRequest) -> Change:
    return pull_change(repo, pr, "open")
