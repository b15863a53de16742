"""Reading revisions without touching the user's checkout."""

import os
import stat
from pathlib import Path

import pytest

from bot import gitrepo
from bot.errors import UserError
from bot.gitrepo import GitSnapshot, WorktreeSnapshot, input_digest


def test_snapshot_lists_reads_and_materialises(make_repo, tmp_path):
    repo = make_repo({"apps/web/a.yaml": "a: 1\n", "README.md": "hi\n"})
    first = gitrepo.rev_parse(repo.path, "HEAD")
    (repo.path / "link").symlink_to("README.md")
    second = repo.commit({"apps/web/a.yaml": "a: 2\n"})
    (repo.path / "untracked.txt").write_text("local edit")

    snap = GitSnapshot(repo.path, first)
    try:
        assert set(snap.files) == {"apps/web/a.yaml", "README.md"}
        assert snap.read("apps/web/a.yaml") == b"a: 1\n"
        assert snap.read("missing") is None
        out = snap.materialize(tmp_path / "co")
        assert (out / "apps/web/a.yaml").read_text() == "a: 1\n"
    finally:
        snap.close()
    later = GitSnapshot(repo.path, second)
    try:
        assert later.read("link") is None, "symlinks are never followed when reading"
        checkout = later.materialize(tmp_path / "co2")
        assert (checkout / "link").is_symlink()
    finally:
        later.close()
    # the user's working tree and index are untouched
    assert (repo.path / "untracked.txt").read_text() == "local edit"
    assert gitrepo.changed_files(repo.path, first, second) == ["apps/web/a.yaml", "link"]


def test_input_digest_changes_only_with_inputs(make_repo):
    repo = make_repo({"apps/web/a.yaml": "a: 1\n", "apps/api/b.yaml": "b: 1\n"})
    one = gitrepo.rev_parse(repo.path, "HEAD")
    two = repo.commit({"apps/api/b.yaml": "b: 2\n"})
    s1, s2 = GitSnapshot(repo.path, one), GitSnapshot(repo.path, two)
    assert input_digest(s1, {"apps/web/"}) == input_digest(s2, {"apps/web/"})
    assert input_digest(s1, {"apps/api/"}) != input_digest(s2, {"apps/api/"})
    assert input_digest(s1, {"apps/api/b.yaml"}) != input_digest(s2, {"apps/api/b.yaml"})


@pytest.mark.parametrize("ref", ["--upload-pack=touch pwned", "", "a b", "$(id)"])
def test_hostile_revisions_are_refused(make_repo, ref):
    repo = make_repo({"a": "1"})
    with pytest.raises(UserError):
        gitrepo.rev_parse(repo.path, ref)
    assert not Path("pwned").exists()


def test_worktree_snapshot_copies_everything_but_git(make_repo, tmp_path):
    """Reproduces issue 14 item 3 at its root: `check DIR` rendered the working tree in
    place, `.git/` included. The copy holds every file, untracked ones too, keeps symlinks
    (also to folders) as symlinks, turns a fifo into a fifo the scan refuses, and has no
    `.git` folder or worktree `.git` file anywhere."""
    repo = make_repo({"apps/web/a.yaml": "a: 1\n", "sub/.git": "gitdir: /elsewhere\n"})
    (repo.path / "untracked.yaml").write_text("b: 2\n")
    (repo.path / "apps/link").symlink_to("web")
    (repo.path / "cfg").symlink_to(".git/config")
    os.mkfifo(repo.path / "apps/pipe")
    snap = WorktreeSnapshot(repo.path)
    assert set(snap.files) == {"apps/web/a.yaml", "untracked.yaml", "apps/link", "cfg", "apps/pipe"}
    out = snap.materialize(tmp_path / "copy")
    assert out == tmp_path / "copy" and (out / "apps/web/a.yaml").read_text() == "a: 1\n"
    assert os.readlink(out / "apps/link") == "web" and os.readlink(out / "cfg") == ".git/config"
    assert stat.S_ISFIFO((out / "apps/pipe").lstat().st_mode)
    assert not (out / ".git").exists() and not (out / "sub/.git").exists()
    assert snap.unreadable == {}
    assert (repo.path / ".git/config").is_file()  # the user's checkout is untouched
