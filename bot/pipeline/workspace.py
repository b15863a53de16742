"""A private workspace holding the two commits of a change, fetched by SHA.

The clone URL is built from the configured template and the repository's full name —
never taken from a payload (docs/security.md#case-39). Credentials travel in the environment of the
one `git fetch` (an `http.extraHeader` given through GIT_CONFIG_* variables), so they are never
written to `.git/config` in the workspace, where a repository file could point at them
(docs/security.md#case-69).
Only the transport of the configured template is allowed (no `ext::`, no `file` in
production).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot import gitrepo, proc, scratch
from bot.errors import Transient, ToolError, UserError
from bot.redact import redact

_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
FETCH_TIMEOUT = 300.0


@dataclass(frozen=True)
class Remote:
    """The repository a job works on: clone URL and the credentials to fetch or push it."""

    url: str
    token: str | None = None
    user: str = "x-access-token"


def clone_url(template: str, host: str, repo: str) -> str:
    """The clone URL of `host/repo` from the configured template (`{host}/{owner}/{repo}`)."""
    if not _NAME.match(repo) or ".." in repo.split("/"):
        raise UserError(f"refusing to clone a repository named {repo!r}")
    owner, _, name = repo.rpartition("/")
    return template.format(host=host, owner=owner, repo=name, full_name=repo)


def allowed_protocol(url: str) -> str:
    """The one git transport the configured URL uses (`https`, `ssh` or `file`)."""
    scheme = urlsplit(url).scheme
    if not scheme:
        return "file" if url.startswith("/") else "ssh"
    if scheme not in ("https", "http", "ssh", "file"):
        raise UserError(f"unsupported clone URL scheme {scheme!r}")
    return scheme


def clone_user(forge: str) -> str:
    """The HTTPS user name a forge expects beside a token: GitHub `x-access-token` (App and
    personal tokens alike); GitLab `oauth2` (which every token type accepts)."""
    return "oauth2" if forge == "gitlab" else "x-access-token"


def _auth_env(token: str | None, username: str) -> dict[str, str]:
    if not token:
        return {}
    basic = base64.b64encode(f"{username}:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


@contextmanager
def change_workspace(
    url: str,
    shas: tuple[str, ...],
    *,
    token: str | None = None,
    username: str = "x-access-token",
    root: Path | None = None,
    refspecs: tuple[str, ...] = (),
) -> Iterator[Path]:
    """A fresh repository (mode 0700) holding the given commits (and branches, by
    `refspecs` such as `+refs/heads/main:refs/remotes/origin/main`); always removed
    afterwards."""
    for sha in shas:
        if not _SHA.match(sha):
            raise UserError(f"not a commit SHA: {sha!r}")
    if root is not None:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = scratch.mkdtemp("gitops-bot-ws-", fallback=root)
    try:
        home = path / ".home"
        home.mkdir(mode=0o700)
        repo = path / "repo"
        gitrepo.git(path, "init", "-q", str(repo))  # not bare: revisions are materialised
        env = gitrepo.git_env(
            home, {"GIT_ALLOW_PROTOCOL": allowed_protocol(url), **_auth_env(token, username)}
        )
        try:
            proc.run(
                [
                    "git",
                    "-C",
                    str(repo),
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--no-recurse-submodules",
                    "--end-of-options",
                    url,
                    *shas,
                    *refspecs,
                ],
                env=env,
                timeout=FETCH_TIMEOUT,
            )
        except ToolError as exc:
            # A forge hiccup or a SHA not yet visible is worth another try later.
            raise Transient(
                f"git fetch failed: {redact(exc.stderr.strip()[-500:])}", retry_after=30
            ) from None
        yield repo
    finally:
        scratch.remove(path)


def workspace_root(data_dir: Path) -> Path:
    """Where workspaces are made: private to the bot's user."""
    root = data_dir / "workspaces"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    return root


def branch_tip(url: str, branch: str, token: str | None, username: str, home: Path) -> str | None:
    """The commit `branch` points at on the remote now (None when it does not exist)."""
    env = gitrepo.git_env(
        home, {"GIT_ALLOW_PROTOCOL": allowed_protocol(url), **_auth_env(token, username)}
    )
    try:
        out = (
            proc.run(
                ["git", "ls-remote", "--end-of-options", url, f"refs/heads/{branch}"],
                env=env,
                timeout=60,
            )
            .stdout.decode()
            .split()
        )
    except ToolError as exc:
        raise Transient(
            f"cannot read branch {branch}: {redact(exc.stderr.strip()[-300:])}", retry_after=30
        ) from None
    return out[0] if out else None


def default_branch(url: str, token: str | None, username: str, home: Path) -> str | None:
    """The remote's default branch (what its HEAD points at)."""
    env = gitrepo.git_env(
        home, {"GIT_ALLOW_PROTOCOL": allowed_protocol(url), **_auth_env(token, username)}
    )
    try:
        out = proc.run(
            ["git", "ls-remote", "--symref", "--end-of-options", url, "HEAD"], env=env, timeout=60
        ).stdout.decode()
    except ToolError as exc:
        raise Transient(
            f"cannot read the default branch: {redact(exc.stderr.strip()[-300:])}", retry_after=30
        ) from None
    for line in out.splitlines():
        if line.startswith("ref: refs/heads/"):
            return line.split()[1].removeprefix("refs/heads/")
    return None
