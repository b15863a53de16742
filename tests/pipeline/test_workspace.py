"""The job workspace: private, random, removed afterwards, and no credential on its disk."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from bot.errors import UserError
from bot.pipeline.workspace import change_workspace
from tests.conftest import GitRepo

TOKEN = "ghs_workspaceToken0123456789abcdef"


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def test_workspaces_are_private_random_and_removed(tmp_path: Path) -> None:
    """docs/security.md#case-36: one job cannot find or read another job's workspace."""
    remote = GitRepo(tmp_path / "remote")
    sha = remote.commit({"apps/web/cm.yaml": "kind: ConfigMap\n"})
    root = tmp_path / "workspaces"
    url = f"file://{remote.path}"
    with (
        change_workspace(url, (sha,), root=root) as first,
        change_workspace(url, (sha,), root=root) as second,
    ):
        assert first.parent != second.parent
        for repo in (first, second):
            assert stat.S_IMODE(repo.parent.stat().st_mode) == 0o700
            assert repo.parent.parent == root
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert list(root.iterdir()) == []


def test_the_clone_token_is_never_written_to_the_workspace(tmp_path: Path) -> None:
    """docs/security.md#case-69: the token travels in the one fetch's environment only, so
    a repository file pointing at `.git/config` (or anything else in the workspace) finds
    no credential there, in any spelling."""
    remote = GitRepo(tmp_path / "remote")
    sha = remote.commit({"apps/web/cm.yaml": "kind: ConfigMap\n"})
    spellings = [
        TOKEN,
        base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode(),
        base64.b64encode(TOKEN.encode()).decode()[:-4],
    ]
    with change_workspace(
        f"file://{remote.path}", (sha,), token=TOKEN, root=tmp_path / "ws"
    ) as repo:
        files = _files(repo.parent)
        assert repo / ".git" / "config" in files
        for path in files:
            data = path.read_bytes()
            for form in spellings:
                assert form.encode() not in data, f"{form[:8]}... in {path}"


@pytest.mark.parametrize("sha", ["--upload-pack=touch pwned", "HEAD", "a" * 39, "A" * 40])
def test_only_commit_shas_are_fetched(tmp_path: Path, sha: str) -> None:
    """docs/security.md#case-38: a revision is a 40-hex SHA, never a ref or an option."""
    with pytest.raises(UserError, match="not a commit SHA"):
        with change_workspace(f"file://{tmp_path}", (sha,), root=tmp_path / "ws"):
            pass
    assert not (tmp_path / "ws").exists() or list((tmp_path / "ws").iterdir()) == []
