"""GitHub test server, part 2: deployments, deployment statuses, pull requests of a commit.

Mixed into GitHubServer. Responses are GitHub's `deployment` / `deployment-status` /
`pull-request` examples from the OpenAPI description, adapted.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from collections.abc import Callable
from typing import Any

from tests.forgeserver import github_spec
from tests.forgeserver.core import Call, Handler, Reply

NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
# Fields of a full pull request that the pull-request-simple items of
# `GET /repos/{owner}/{repo}/commits/{sha}/pulls` do not have (GitHub's schema
# "pull-request-simple"); notably no `merged`: clients must read `merged_at`.
_FULL_ONLY = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeploymentsMixin:
    """Deployments (newest first) with their statuses, and commit -> pull request lookups."""

    # Provided by GitHubServer / ForgeServer.
    url: str
    pulls: dict[tuple[str, int], dict[str, Any]]
    statuses: list[dict[str, Any]]
    _ids: Any
    route: Callable[[str, str, Handler], None]
    paginate: Callable[[Call, str, list[Any]], Reply]
    user: Callable[[str], dict[str, Any]]

    def install_deployments(self) -> None:
        self.deployments: dict[int, dict[str, Any]] = {}
        self.deployment_repo: dict[int, str] = {}
        self.deployment_statuses: dict[int, list[dict[str, Any]]] = {}
        R = "/repos/{owner}/{repo}"
        for method, pattern, handler in [
            ("GET", R + "/deployments", self._list_deployments),
            ("POST", R + "/deployments", self._create_deployment),
            ("GET", R + "/deployments/{did}/statuses", self._list_deployment_statuses),
            ("POST", R + "/deployments/{did}/statuses", self._create_deployment_status),
            ("GET", R + "/commits/{sha}/pulls", self._commit_pulls),
        ]:
            self.route(method, pattern, handler)

    # -- helpers for tests ------------------------------------------------------------------
    def merge_pull(self, repo: str, number: int, merge_commit_sha: str) -> dict[str, Any]:
        """Mark pull request `number` merged, its merge producing `merge_commit_sha`."""
        pr = self.pulls[(repo, number)]
        pr.update(
            state="closed",
            merged=True,
            merged_at=_iso(time.time()),
            closed_at=_iso(time.time()),
            merge_commit_sha=merge_commit_sha,
        )
        return dict(pr)

    def deployment_states(self, deployment_id: int | str) -> list[str]:
        """The states of a deployment's statuses, oldest first."""
        return [s["state"] for s in reversed(self.deployment_statuses[int(deployment_id)])]

    # -- handlers ---------------------------------------------------------------------------
    @staticmethod
    def _repo_of(call: Call) -> str:
        return f"{call.params['owner']}/{call.params['repo']}"

    def _list_deployments(self, call: Call) -> Reply:
        repo = self._repo_of(call)
        wanted = {k: call.arg(k) for k in ("sha", "ref", "task", "environment") if call.arg(k)}
        found = [
            d
            for did, d in sorted(self.deployments.items(), reverse=True)
            if self.deployment_repo[did] == repo and all(d.get(k) == v for k, v in wanted.items())
        ]
        return self.paginate(call, f"/repos/{repo}/deployments", found)

    def _create_deployment(self, call: Call) -> Reply:
        repo, body = self._repo_of(call), call.body
        if "required_contexts" not in body:
            # "If you omit this parameter, GitHub verifies all unique contexts before creating
            # a deployment" (repos/create-deployment): 409 when one is not success.
            latest: dict[str, str] = {}
            for s in self.statuses:
                if s["repo"] == repo and s["sha"] == body["ref"]:
                    latest[s.get("context", "default")] = s["state"]
            if any(state != "success" for state in latest.values()):
                return Reply(
                    409, {"message": f"Conflict: Commit status checks failed for {body['ref']}."}
                )
        did = next(self._ids)
        d = github_spec.example("deployment")
        d.update(
            id=did,
            sha=body["ref"],
            ref=body["ref"],
            task=body.get("task", "deploy"),
            environment=body.get("environment", "production"),
            original_environment=body.get("environment", "production"),
            description=body.get("description", ""),
            payload=body.get("payload", {}),
            creator=self.user(call.user or ""),
            url=f"{self.url}/repos/{repo}/deployments/{did}",
            statuses_url=f"{self.url}/repos/{repo}/deployments/{did}/statuses",
            repository_url=f"{self.url}/repos/{repo}",
            created_at=_iso(time.time()),
            updated_at=_iso(time.time()),
        )
        d["_request"] = dict(body)
        self.deployments[did] = d
        self.deployment_repo[did] = repo
        self.deployment_statuses[did] = []
        return Reply(201, {k: v for k, v in d.items() if k != "_request"})

    def _deployment(self, call: Call) -> tuple[int, dict[str, Any]] | None:
        did = int(call.params["did"])
        if did not in self.deployments or self.deployment_repo[did] != self._repo_of(call):
            return None
        return did, self.deployments[did]

    def _list_deployment_statuses(self, call: Call) -> Reply:
        found = self._deployment(call)
        if found is None:
            return Reply(404, NOT_FOUND)
        did = found[0]
        return self.paginate(
            call,
            f"/repos/{self._repo_of(call)}/deployments/{did}/statuses",
            self.deployment_statuses[did],
        )

    def _create_deployment_status(self, call: Call) -> Reply:
        found = self._deployment(call)
        if found is None:
            return Reply(404, NOT_FOUND)
        did, deployment = found
        status = github_spec.example("deployment-status")
        status.update(target_url="", log_url="", environment_url="")
        status.update(call.body)
        if call.body.get("log_url"):
            # "Setting log_url will automatically set target_url to the same value".
            status["target_url"] = call.body["log_url"]
        sid = next(self._ids)
        status.update(
            id=sid,
            environment=deployment["environment"],
            creator=self.user(call.user or ""),
            url=f"{deployment['url']}/statuses/{sid}",
            deployment_url=deployment["url"],
            created_at=_iso(time.time()),
        )
        self.deployment_statuses[did].insert(0, status)  # listed newest first
        return Reply(201, status)

    def _commit_pulls(self, call: Call) -> Reply:
        # repos/list-pull-requests-associated-with-commit: the merged PR that introduced the
        # commit (its merge commit), and PRs whose head is the commit.
        repo, sha = self._repo_of(call), call.params["sha"]
        found = [
            {k: v for k, v in pr.items() if k not in _FULL_ONLY}
            for (r, _), pr in sorted(self.pulls.items())
            if r == repo
            and (
                (pr.get("merged_at") and pr.get("merge_commit_sha") == sha)
                or pr["head"]["sha"] == sha
            )
        ]
        return self.paginate(call, f"/repos/{repo}/commits/{sha}/pulls", found)
