"""Reading revisions without touching the user's checkout."""
from pathlib import Path

import pytest

from bot import gitrepo
from bot.errors import UserError
from bot.gitrepo import GitSnapshot, input_digest


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
