"""GitHub: pure webhook parsing (`parse_github`) and the API adapter (`GitHubForge`)."""

from bot.forges.github_api import GitHubForge
from bot.forges.github_parse import parse_github

__all__ = ["GitHubForge", "parse_github"]
