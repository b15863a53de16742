"""The Forge port: what the pipeline may ask of GitHub or GitLab, in forge-neutral terms."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.errors import GitopsBotError
from bot.model import Approval, Change, State

# Fixed status / check contexts (STYLE habit 8: every write is an upsert keyed by these).
REVIEW_CONTEXT = "gitops-bot/review"
DEPLOY_CONTEXT = "gitops-bot/deploy"
# The hidden marker that identifies the bot's single review comment (plus the bot's identity).
REVIEW_MARKER = "<!-- gitops-bot:review -->"
# The marker of the bot's single deploy comment on the merged change request.
DEPLOY_MARKER = "<!-- gitops-bot:deploy -->"
# Comment command prefix; the rest of the line is the command.
COMMAND_PREFIX = "/gitops-bot"
RECHECK_COMMAND = "/gitops-bot recheck"
# Governance commands (bot.commands parses them): a rule override by its owners, and
# break-glass by two members of the configured group.
OVERRIDE_COMMAND = "/gitops-bot override"
BREAK_GLASS_COMMAND = "/gitops-bot break-glass"
GOVERNANCE_COMMANDS = (OVERRIDE_COMMAND, BREAK_GLASS_COMMAND)
# The marker of the loud comment break-glass posts on the change.
BREAK_GLASS_MARKER = "<!-- gitops-bot:breakglass -->"
# GitHub shows (and documents) short status descriptions; we cut at 140 characters on both
# forges so a long message never turns a status write into a 422.
STATUS_DESCRIPTION_LIMIT = 140


class BadPayload(GitopsBotError, ValueError):
    """A webhook payload that is malformed or carries values the bot refuses (HTTP 400)."""


class ForgeError(GitopsBotError):
    """A forge API call failed for good (4xx other than rate limits); `status` is the HTTP code.

    The message never contains a credential: adapters scrub their own tokens out of it.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Annotation:
    """A finding pinned to `path:start_line` for a GitHub check run.

    `level` is "notice", "warning" or "failure" (GitHub's annotation_level vocabulary).
    """

    path: str
    start_line: int
    message: str
    level: str = "failure"
    end_line: int | None = None
    title: str | None = None


@runtime_checkable
class Forge(Protocol):
    """One forge account (GitHub App installation, GitHub token, GitLab token) seen by the bot.

    Every method is synchronous, raises `Transient` for failures worth retrying (the caller
    asks `bot.errors.retry_after`) and `ForgeError` for the rest. Writes are upserts.
    """

    name: str            # "github" | "gitlab"
    comment_limit: int   # longest comment body the forge accepts, in characters

    def get_change(self, repo: str, number: int) -> Change:
        """The pull / merge request as the forge reports it now, with its changed files."""
        ...

    def approvals(self, repo: str, number: int) -> list[Approval]:
        """Current approvals, each bound to the SHA it approved, with teams and write access."""
        ...

    def can_write(self, repo: str, user: str) -> bool:
        """Whether `user` may push to `repo` (it authorises comment commands,
        docs/security.md#authorised-commands)."""
        ...

    def upsert_comment(self, repo: str, number: int, body: str, marker: str) -> str:
        """Edit the bot's own comment carrying `marker`, else create one; return its id."""
        ...

    def set_status(self, repo: str, sha: str, context: str, state: State, description: str,
                   target_url: str | None = None) -> None:
        """Set the commit status `context` on `sha` (description cut to 140 characters)."""
        ...

    def publish_check(self, repo: str, sha: str, name: str, state: State, summary: str,
                      annotations: Sequence[Annotation]) -> None:
        """Publish a check run with file:line annotations where the forge supports it."""
        ...

    def start_deployment(self, repo: str, sha: str, environment: str, description: str) -> str:
        """Record that `sha` is being deployed to `environment` (state in progress); its id.

        An upsert: a running deployment of the same SHA and environment made by the bot is
        reused, so a retried job does not leave a second one behind.
        """
        ...

    def finish_deployment(self, repo: str, deployment_id: str, state: State, description: str,
                          environment_url: str | None = None,
                          log_url: str | None = None) -> None:
        """Set the outcome of deployment `deployment_id` (PENDING: still in progress)."""
        ...

    def merged_change_for(self, repo: str, sha: str) -> Change | None:
        """The merged change request whose merge put `sha` on its base branch, else None."""
        ...

    def open_changes(self, repo: str) -> list[Change]:
        """Every open pull / merge request of `repo` (no changed files; GitLab lists no
        base SHA: it is "" there). Used to recover events that were never delivered."""
        ...

    def is_member(self, repo: str, user: str, group: str) -> bool:
        """Whether `user` is an active member of `group` now (GitHub: a team, `org/slug` or
        a slug of the repository's owner; GitLab: a group's full path). It authorises
        overrides and break-glass, read from the forge at the time of the command."""
        ...


def cut(text: str, limit: int, suffix: str = "…") -> str:
    """`text` shortened to at most `limit` characters, ending in `suffix` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(suffix))] + suffix


def with_marker(body: str, marker: str, limit: int) -> str:
    """The comment body to post: starts with `marker` (added if missing) and fits `limit`.

    The marker must survive truncation, or the next upsert would not find the comment and
    would post a duplicate.
    """
    if not marker:
        raise ValueError("an empty marker would match every comment")
    if marker not in body:
        body = f"{marker}\n{body}"
    note = "\n\n… (comment truncated: the forge's size limit was reached)"
    if len(body) > limit:
        body = cut(body, limit, note)
        if marker not in body:
            body = cut(f"{marker}\n{body}", limit, note)
    return body
