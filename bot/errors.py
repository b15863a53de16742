"""The bot's exception hierarchy.

    GitopsBotError
     +-- UserError        bad input or configuration the user can fix (exit code 2 in the CLI)
     |    +-- ConfigError  .gitops-bot.yaml or server config is invalid (names file, line, key)
     +-- ToolError        an external tool (helm, kubectl, git) failed or timed out
     |    +-- ToolMissing  the tool is not installed where the bot looks
     +-- BudgetExceeded   input larger or deeper than the configured budget
"""
from __future__ import annotations


class GitopsBotError(Exception):
    """Base class of every error the bot raises on purpose."""


class UserError(GitopsBotError):
    """Bad input the user can fix; the message says how."""


class ConfigError(UserError):
    """Invalid configuration; names the file, line and key where known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
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

    def __init__(self, message: str, *, argv: list[str] | None = None,
                 returncode: int | None = None, stderr: str = "",
                 timed_out: bool = False) -> None:
        super().__init__(message)
        self.argv = argv or []
        self.returncode = returncode
        self.stderr = stderr
        self.timed_out = timed_out


class ToolMissing(ToolError):
    """The named tool could not be found."""


class BudgetExceeded(GitopsBotError):
    """Input exceeded a size, depth, alias or time budget."""
