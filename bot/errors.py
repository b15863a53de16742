"""The bot's exception hierarchy.

    GitopsBotError
     +-- UserError        bad input or configuration the user can fix (exit code 2 in the CLI)
     |    +-- ConfigError       .gitops-bot.yaml or server config is invalid (file, line, key)
     |    +-- PolicyLoadError   a policy folder cannot be read (bot/policy/policyset.py)
     |    +-- Refused           the render sandbox said no (bot/render/sandbox.py)
     |    +-- EmptyRenderRefused, UnsafeObject   deploy refusals (bot/live/base.py)
     +-- ToolError        an external tool (helm, kubectl, git) failed or timed out
     |    +-- ToolMissing  the tool is not installed where the bot looks
     +-- BudgetExceeded   input larger or deeper than the configured budget
     +-- Ignored          an event the bot does not act on (carries .reason; not a failure)
     +-- Transient        a temporary failure worth retrying (carries .retry_after)
     |    +-- DiskFull          a tool found no space left on the bot's disk
     |    +-- LiveUnavailable   live state cannot be read now (bot/live/base.py)
     +-- ForgeError       a forge API call failed for good (bot/forges/base.py)
     +-- BadPayload       a webhook payload the bot refuses (also a ValueError; bot/forges/base.py)

Inside a review, an exception of any kind in one stage of one target becomes an ERROR
finding of that target naming the stage (`bot.pipeline.stages`); only `Transient` escapes,
so the job is retried.

`retry_after(exc)` is the only place that decides whether (and when) to retry.
"""

from __future__ import annotations

import errno


class GitopsBotError(Exception):
    """Base class of every error the bot raises on purpose."""


class UserError(GitopsBotError):
    """Bad input the user can fix; the message says how."""


class ConfigError(UserError):
    """Invalid configuration; names the file, line and key where known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file, self.line, self.key = file, line, key
        where = file or ""
        if file and line:
            where = f"{file}:{line}"
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{message}")
        self.reason = message


class ToolError(GitopsBotError):
    """An external tool failed; carries the argv, exit code and a tail of stderr."""

    def __init__(
        self,
        message: str,
        *,
        argv: list[str] | None = None,
        returncode: int | None = None,
        stderr: str = "",
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.argv = argv or []
        self.returncode = returncode
        self.stderr = stderr
        self.timed_out = timed_out


class ToolMissing(ToolError):
    """The named tool could not be found."""


class BudgetExceeded(GitopsBotError):
    """Input exceeded a size, depth, alias or time budget."""


class Ignored(GitopsBotError):
    """An event the bot deliberately does not act on; `reason` says why (for logs, 2xx)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Transient(GitopsBotError):
    """A temporary failure (forge 5xx, rate limit, timeout) that may succeed later.

    `retry_after` is the delay in seconds the remote asked for (`Retry-After`,
    `x-ratelimit-reset`), or None when it did not say.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DiskFull(Transient):
    """The bot's own disk is full: nothing the change did; the job is retried later."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=DISK_FULL_RETRY_SECONDS)


# Without a server hint, wait this long before the first retry; callers back off from there.
DEFAULT_RETRY_SECONDS = 10.0
DISK_FULL_RETRY_SECONDS = 60.0


def retry_after(exc: BaseException) -> float | None:
    """Seconds to wait before retrying after `exc`, or None when it must not be retried.

    Only `Transient` errors (and a full disk) are retried: with the server's delay when it
    gave one (never less than 1 s), else `DEFAULT_RETRY_SECONDS`. Everything else (user
    errors, bugs, ignored events, 4xx answers) is final.
    """
    if isinstance(exc, Transient):
        if exc.retry_after is None:
            return DEFAULT_RETRY_SECONDS
        return max(1.0, float(exc.retry_after))
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL_RETRY_SECONDS
    return None
