"""Loopback forge test servers (GitHub, GitLab) that check every request the bot sends."""

from tests.forgeserver.core import Call, ForgeServer, Recorded, Reply
from tests.forgeserver.github import GitHubServer
from tests.forgeserver.gitlab import GitLabServer

__all__ = ["Call", "ForgeServer", "GitHubServer", "GitLabServer", "Recorded", "Reply"]
