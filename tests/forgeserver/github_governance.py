"""GitHub test server, part 3: the open pull requests of a repository and team membership.

Mixed into GitHubServer. List items are the stored pull requests reduced to GitHub's
"pull-request-simple" schema (as `commits/{sha}/pulls` answers); a membership is the
documented team-membership object (url, role, state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.forgeserver.core import Call, Handler, Reply
from tests.forgeserver.github_deploy import _FULL_ONLY

NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


class GovernanceMixin:
    """`GET /repos/{o}/{r}/pulls` and `GET /orgs/{org}/teams/{slug}/memberships/{user}`."""

    # Provided by GitHubServer / ForgeServer.
    url: str
    pulls: dict[tuple[str, int], dict[str, Any]]
    teams: dict[str, list[dict[str, Any]]]
    members: dict[int, list[str]]
    route: Callable[[str, str, Handler], None]
    paginate: Callable[[Call, str, list[Any]], Reply]

    def install_governance(self) -> None:
        # (org, slug) -> {login: "active" | "pending"}: teams that need no repository access
        self.org_teams: dict[tuple[str, str], dict[str, str]] = {}
        R = "/repos/{owner}/{repo}"
        self.route("GET", R + "/pulls", self._list_pulls)
        self.route("GET", "/orgs/{org}/teams/{slug}/memberships/{user}", self._membership)

    def add_org_team(
        self, org: str, slug: str, members: list[str], pending: tuple[str, ...] = ()
    ) -> None:
        """A team of `org` (members active; `pending`: invited, not yet accepted)."""
        self.org_teams[(org, slug)] = {
            **{m: "active" for m in members},
            **{m: "pending" for m in pending},
        }

    def _list_pulls(self, call: Call) -> Reply:
        repo = f"{call.params['owner']}/{call.params['repo']}"
        state = call.arg("state", "open")
        base = call.arg("base")
        found = [
            {k: v for k, v in pr.items() if k not in _FULL_ONLY}
            for (r, _), pr in sorted(self.pulls.items())
            if r == repo
            and (state == "all" or pr["state"] == state)
            and (base is None or pr["base"]["ref"] == base)
        ]
        return self.paginate(call, f"/repos/{repo}/pulls", found)

    def _membership(self, call: Call) -> Reply:
        org, slug, user = call.params["org"], call.params["slug"], call.params["user"]
        state = self.org_teams.get((org, slug), {}).get(user)
        if state is None:  # teams with access to a repository of the org count too
            for repo, teams in self.teams.items():
                for team in teams:
                    if (
                        repo.split("/")[0] == org
                        and team["slug"] == slug
                        and user in self.members.get(team["id"], [])
                    ):
                        state = "active"
        if state is None:
            return Reply(404, NOT_FOUND)
        return Reply(
            200,
            {
                "url": f"{self.url}/orgs/{org}/teams/{slug}/memberships/{user}",
                "role": "member",
                "state": state,
            },
        )
