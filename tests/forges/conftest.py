"""Forge tests: real payload fixtures, and the GitHub / GitLab test servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.forges.payloads import GH_TOKEN, GL_TOKEN
from tests.forgeserver import GitHubServer, GitLabServer


@pytest.fixture(scope="session")
def app_key() -> tuple[str, str]:
    """A throwaway RSA key pair (private PEM, public PEM) for the GitHub App."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


@pytest.fixture
def github(app_key: tuple[str, str]) -> Iterator[GitHubServer]:
    """A GitHub test server knowing GH_TOKEN (user `gitops-bot-user`) and the App's key.

    Fails the test at teardown if any request broke the OpenAPI description, unless the
    test emptied `violations` after asserting on them.
    """
    server = GitHubServer(app_public_key=app_key[1])
    server.tokens[GH_TOKEN] = "gitops-bot-user"
    server.start()
    yield server
    server.stop()
    assert server.violations == [], server.violations


@pytest.fixture
def gitlab() -> Iterator[GitLabServer]:
    """A GitLab test server knowing GL_TOKEN (user `gitops-bot`); checks shapes like above."""
    server = GitLabServer()
    server.tokens[GL_TOKEN] = "gitops-bot"
    server.user("gitops-bot")
    server.start()
    yield server
    server.stop()
    assert server.violations == [], server.violations
