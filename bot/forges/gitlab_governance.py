"""GitLab: the open merge requests of a project and group membership (mixed into
GitLabForge). Both serve governance: the sweep that recovers missed events, and the
authority of override and break-glass commands, read from GitLab when the command comes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.forges import payload as p
from bot.forges.gitlab_deploy import change_from_mr
from bot.model import Change

# Guest (10) and above are members; Minimal Access (5) is not:
# https://docs.gitlab.com/user/permissions/
GUEST = 10


class GitLabGovernance:
    """Open merge requests and group membership for GitLabForge (uses its plumbing)."""

    if TYPE_CHECKING:

        def _list(self, path: str, **query: Any) -> list[Any]: ...
        def _get(self, path: str, **query: Any) -> Any: ...
        def _member(self, where: str, user_id: int) -> dict[str, Any] | None: ...
        @staticmethod
        def _project(repo: str) -> str: ...

    def open_changes(self, repo: str) -> list[Change]:
        """GET /projects/:id/merge_requests?state=opened
        https://docs.gitlab.com/api/merge_requests/#list-project-merge-requests"""
        return [
            _listed(repo, mr)
            for mr in self._list(f"{self._project(repo)}/merge_requests", state="opened")
        ]

    def is_member(self, repo: str, user: str, group: str) -> bool:
        """GET /groups/:id/members/all/:user_id with the group's URL-encoded full path as id
        (inherited members count; https://docs.gitlab.com/api/members/)."""
        found = self._get("/users", username=p.login(user, "user"))
        if not found:
            return False
        path = (
            p.repo_name(group.strip(), "group", max_segments=21) if "/" in group else group.strip()
        )
        if not path or not all(c.isalnum() or c in "_.-" for c in path.replace("/", "")):
            return False
        member = self._member(f"/groups/{quote(path, safe='')}", int(found[0]["id"]))
        if member is None:
            return False
        return (
            int(member.get("access_level") or 0) >= GUEST
            and member.get("state", "active") == "active"
        )


def _listed(repo: str, mr: Mapping[str, Any]) -> Change:
    # The list has no diff_refs: the base SHA is left empty (a review re-reads the MR).
    return change_from_mr(repo, {**mr, "state": "opened"}, (), None)
