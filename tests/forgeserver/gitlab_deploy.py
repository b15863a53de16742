"""GitLab test server, part 2: deployments and the merge requests of a commit.

Mixed into GitLabServer. Deployment bodies start from the documented "Create a deployment"
response (tests/fixtures/gitlab/rest-api/examples/deployments/), MRs from the documented
"List merge requests associated with a commit" example, adapted.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from collections.abc import Callable
from typing import Any

from tests.forgeserver.core import Call, Handler, Reply

NOT_FOUND = {"message": "404 Not found"}
# A deployment finishes once: GitLab's state machine has no transition out of these.
_FINAL = frozenset({"success", "failed", "canceled"})


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class DeploymentsMixin:
    """Environment deployments per project, and commit -> merge request lookups."""

    # Provided by GitLabServer / ForgeServer.
    mrs: dict[tuple[str, int], dict[str, Any]]
    projects: dict[str, dict[str, Any]]
    _ids: Any
    route: Callable[[str, str, Handler], None]
    paginate: Callable[[Call, str, list[Any]], Reply]
    user: Callable[[str], dict[str, Any]]
    _path_of: Callable[[str], str | None]

    def install_deployments(self) -> None:
        self.deployments: dict[int, dict[str, Any]] = {}
        self.deployment_project: dict[int, str] = {}
        P = "/projects/{pid}"
        for method, pattern, handler in [
            ("GET", P + "/deployments", self._list_deployments),
            ("POST", P + "/deployments", self._create_deployment),
            ("GET", P + "/deployments/{did}", self._get_deployment),
            ("PUT", P + "/deployments/{did}", self._update_deployment),
            ("GET", P + "/repository/commits/{sha}/merge_requests", self._commit_mrs),
        ]:
            self.route(method, pattern, handler)

    # -- helpers for tests ------------------------------------------------------------------
    def merge_mr(
        self,
        path: str,
        iid: int,
        *,
        merge_commit_sha: str | None,
        squash_commit_sha: str | None = None,
    ) -> dict[str, Any]:
        """Mark MR `iid` merged (merge_commit_sha None: fast-forward merge method)."""
        mr = self.mrs[(path, iid)]
        mr.update(
            state="merged",
            merge_commit_sha=merge_commit_sha,
            squash_commit_sha=squash_commit_sha,
            merged_at=_iso(time.time()),
        )
        return dict(mr)

    # -- handlers ---------------------------------------------------------------------------
    def _list_deployments(self, call: Call) -> Reply:
        path = self._path_of(call.params["pid"])
        if not path:
            return Reply(404, NOT_FOUND)
        found = [
            d
            for did, d in sorted(self.deployments.items(), reverse=call.arg("sort") == "desc")
            if self.deployment_project[did] == path
            and all(
                call.arg(k) in (None, v)
                for k, v in (("environment", d["environment"]["name"]), ("status", d["status"]))
            )
        ]
        return self.paginate(call, f"/projects/{call.params['pid']}/deployments", found)

    def _create_deployment(self, call: Call) -> Reply:
        path = self._path_of(call.params["pid"])
        if not path:
            return Reply(404, NOT_FOUND)
        did = next(self._ids)
        d = example("deployments/post-projects-id-deployments.response.json")
        same_env = [
            x
            for x in self.deployments.values()
            if x["environment"]["name"] == call.body["environment"]
        ]
        env_id = same_env[0]["environment"]["id"] if same_env else next(self._ids)
        d.update(
            id=did,
            iid=len(self.deployments) + 1,
            ref=call.body["ref"],
            sha=call.body["sha"],
            status=call.body["status"],
            created_at=_iso(time.time()),
            user=self.user(call.user or ""),
            environment={"id": env_id, "name": call.body["environment"], "external_url": None},
        )
        self.deployments[did] = d
        self.deployment_project[did] = path
        return Reply(201, d)

    def _deployment(self, call: Call) -> dict[str, Any] | None:
        did = int(call.params["did"])
        path = self._path_of(call.params["pid"])
        return self.deployments.get(did) if self.deployment_project.get(did) == path else None

    def _get_deployment(self, call: Call) -> Reply:
        d = self._deployment(call)
        return Reply(200, d) if d else Reply(404, NOT_FOUND)

    def _update_deployment(self, call: Call) -> Reply:
        d = self._deployment(call)
        if d is None:
            return Reply(404, NOT_FOUND)
        if d["status"] in _FINAL:
            # Assumed shape: the API answers 400 with the model's errors when the state
            # machine refuses the transition (the docs give no example of it).
            return Reply(
                400,
                {
                    "message": {
                        "status": [f"cannot transition from {d['status']} to {call.body['status']}"]
                    }
                },
            )
        d.update(status=call.body["status"], updated_at=_iso(time.time()))
        return Reply(200, d)

    def _commit_mrs(self, call: Call) -> Reply:
        # MRs that contain the commit: as head, or as their merge / squash commit.
        path, sha = self._path_of(call.params["pid"]), call.params["sha"]
        found = [
            mr
            for (p, _), mr in sorted(self.mrs.items())
            if p == path
            and sha in (mr["sha"], mr.get("merge_commit_sha"), mr.get("squash_commit_sha"))
        ]
        return self.paginate(
            call, f"/projects/{call.params['pid']}/repository/commits/{sha}/merge_requests", found
        )


def example(name: str) -> Any:
    """A documented response example (same loader as tests.forgeserver.gitlab)."""
    from tests.forgeserver.gitlab import example as load

    return load(name)
