"""A Forge that hands every call to another one: the base of wrappers that change one or two
methods (`bot.pipeline.serial.SerialComments`, `bot.pipeline.job.ApprovalsSeen`).

Each method of the `Forge` port is delegated by name (no `__getattr__`): where a wrapper is
used as a Forge, mypy checks it is a complete one.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.forges.base import Annotation, Forge
from bot.model import Approval, Change, State


class ForgeProxy:
    """Every `Forge` method, passed on to `inner`."""

    def __init__(self, inner: Forge) -> None:
        self._forge = inner
        self.name, self.comment_limit = inner.name, inner.comment_limit

    def get_change(self, repo: str, number: int) -> Change:
        return self._forge.get_change(repo, number)

    def approvals(self, repo: str, number: int) -> list[Approval]:
        return self._forge.approvals(repo, number)

    def team_members(self, repo: str) -> dict[str, tuple[str, ...]]:
        return self._forge.team_members(repo)

    def can_write(self, repo: str, user: str) -> bool:
        return self._forge.can_write(repo, user)

    def upsert_comment(self, repo: str, number: int, body: str, marker: str) -> str:
        return self._forge.upsert_comment(repo, number, body, marker)

    def set_status(
        self,
        repo: str,
        sha: str,
        context: str,
        state: State,
        description: str,
        target_url: str | None = None,
    ) -> None:
        self._forge.set_status(repo, sha, context, state, description, target_url)

    def publish_check(
        self,
        repo: str,
        sha: str,
        name: str,
        state: State,
        summary: str,
        annotations: Sequence[Annotation],
    ) -> None:
        self._forge.publish_check(repo, sha, name, state, summary, annotations)

    def start_deployment(self, repo: str, sha: str, environment: str, description: str) -> str:
        return self._forge.start_deployment(repo, sha, environment, description)

    def finish_deployment(
        self,
        repo: str,
        deployment_id: str,
        state: State,
        description: str,
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        self._forge.finish_deployment(
            repo, deployment_id, state, description, environment_url, log_url
        )

    def merged_change_for(self, repo: str, sha: str) -> Change | None:
        return self._forge.merged_change_for(repo, sha)

    def open_changes(self, repo: str) -> list[Change]:
        return self._forge.open_changes(repo)

    def is_member(self, repo: str, user: str, group: str) -> bool:
        return self._forge.is_member(repo, user, group)

    def clone_token(self) -> str | None:
        return self._forge.clone_token()
