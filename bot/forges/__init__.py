"""Forge layer: pure webhook parsers and the Forge port with its GitHub and GitLab adapters.

Importing this package does not import PyGithub or python-gitlab: the adapters import them
when an adapter is constructed or used.
"""

from bot.forges.base import (
    COMMAND_PREFIX,
    DEPLOY_CONTEXT,
    RECHECK_COMMAND,
    REVIEW_CONTEXT,
    REVIEW_MARKER,
    Annotation,
    BadPayload,
    Forge,
    ForgeError,
)
from bot.forges.github import GitHubForge, parse_github
from bot.forges.gitlab import GitLabForge, parse_gitlab

__all__ = [
    "COMMAND_PREFIX",
    "DEPLOY_CONTEXT",
    "RECHECK_COMMAND",
    "REVIEW_CONTEXT",
    "REVIEW_MARKER",
    "Annotation",
    "BadPayload",
    "Forge",
    "ForgeError",
    "GitHubForge",
    "GitLabForge",
    "parse_github",
    "parse_gitlab",
]
