"""GitLab: pure webhook parsing (`parse_gitlab`) and the API adapter (`GitLabForge`)."""

from bot.forges.gitlab_api import GitLabForge
from bot.forges.gitlab_parse import parse_gitlab

__all__ = ["GitLabForge", "parse_gitlab"]
