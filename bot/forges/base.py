"""The Forge port: what the pipeline may ask of GitHub or GitLab, in forge-neutral terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot import markdown as md
from bot import markers
from bot.errors import GitopsBotError
from bot.model import Approval, Change, State

# Fixed status / check contexts (STYLE habit 8: every write is an upsert keyed by these).
REVIEW_CONTEXT = "gitops-bot/review"
DEPLOY_CONTEXT = "gitops-bot/deploy"
# Comment markers and command words live in bot.markers; these names are kept for callers.
REVIEW_MARKER = markers.REVIEW
COMMAND_PREFIX = markers.COMMAND_PREFIX
RECHECK_COMMAND = markers.RECHECK
OVERRIDE_COMMAND = markers.OVERRIDE
BREAK_GLASS_COMMAND = markers.BREAK_GLASS_COMMAND
GOVERNANCE_COMMANDS = markers.GOVERNANCE
BREAK_GLASS_MARKER = markers.BREAK_GLASS
# GitHub shows (and documents) short status descriptions; we cut at 140 characters on both
# forges so a long message never turns a status write into a 422. Callers pass whole text:
# the adapters apply every limit (and bot.markdown's escaping) themselves.
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

    name: str  # "github" | "gitlab"
    comment_limit: int  # longest comment body the forge accepts, in characters

    def get_change(self, repo: str, number: int) -> Change:
        """The pull / merge request as the forge reports it now, with its changed files."""
        ...

    def approvals(self, repo: str, number: int) -> list[Approval]:
        """Current approvals, each bound to the SHA it approved, with teams and write access."""
        ...

    def team_members(self, repo: str) -> dict[str, tuple[str, ...]]:
        """Teams that may push to `repo` (GitHub `org/slug`, GitLab group path) -> the logins
        of their members who can: the people who can give a team's approval."""
        ...

    def can_write(self, repo: str, user: str) -> bool:
        """Whether `user` may push to `repo` (it authorises comment commands,
        docs/security.md#authorised-commands)."""
        ...

    def upsert_comment(self, repo: str, number: int, body: str, marker: str) -> str:
        """Edit the bot's own comment whose first line is `marker` (bot.markers), else
        create one; return its id."""
        ...

    def set_status(
        self,
        repo: str,
        sha: str,
        context: str,
        state: State,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Set the commit status `context` on `sha`; `description` is plain text (escaped
        and cut to 140 characters by the adapter)."""
        ...

    def publish_check(
        self,
        repo: str,
        sha: str,
        name: str,
        state: State,
        summary: str,
        annotations: Sequence[Annotation],
    ) -> None:
        """Publish a check run with file:line annotations where the forge supports it;
        `summary` and the annotations are plain text (the adapter escapes and cuts them)."""
        ...

    def start_deployment(self, repo: str, sha: str, environment: str, description: str) -> str:
        """Record that `sha` is being deployed to `environment` (state in progress); its id.

        An upsert: a running deployment of the same SHA and environment made by the bot is
        reused, so a retried job does not leave a second one behind.
        """
        ...

    def finish_deployment(
        self,
        repo: str,
        deployment_id: str,
        state: State,
        description: str,
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
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

    def clone_token(self) -> str | None:
        """A token `git fetch` may use over HTTPS for this account (minted when needed);
        None: the forge's repositories are fetched without one."""
        return None


def field(text: str, limit: int, *, multiline: bool = False) -> str:
    """A plain-text forge field: escaped by `bot.markdown.plain`, cut to `limit`."""
    return cut(md.plain(text, multiline=multiline), limit)


def cut(text: str, limit: int, suffix: str = "…") -> str:
    """`text` shortened to at most `limit` characters, ending in `suffix` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(suffix))] + suffix


def with_marker(body: str, marker: str, limit: int) -> str:
    """The comment body to post: `marker` is its first line (added if missing) and it fits
    `limit`. The marker survives truncation, or the next upsert would post a duplicate."""
    body = markers.marked(body, marker)
    note = "\n\n… (comment truncated: the forge's size limit was reached)"
    return cut(body, limit, note)
