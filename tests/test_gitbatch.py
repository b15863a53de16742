"""One long-lived `git cat-file --batch` per repository: same answers as git's own commands,
and a review answered from the cache starts no process."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bot import gitbatch, gitrepo, proc
from bot.gitrepo import GitSnapshot
from bot.pipeline.change import review_change
from bot.pipeline.review import ReviewOptions
from bot.tools import Tools, tool_version
from tests.conftest import GitRepo


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def test_changed_files_and_author_match_git(make_repo) -> None:
    repo = make_repo({"a.b": "1", "a/b": "2", "a/c/d.yaml": "3", "run.sh": "4", "gone": "5"})
    first = gitrepo.rev_parse(repo.path, "HEAD")
    os.chmod(repo.path / "run.sh", 0o755)
    _git(repo.path, "mv", "a/b", "a-b")
    second = repo.commit({"a/c/d.yaml": "4", "gone": None, "new/x": "x", "a0": "y"})
    want = [
        p
        for p in _git(repo.path, "diff", "--name-only", "--no-renames", first, second).splitlines()
        if p
    ]
    assert gitrepo.changed_files(repo.path, first, second) == want
    assert (
        gitrepo.author_email(repo.path, second)
        == _git(repo.path, "log", "-1", "--format=%ae", second).strip()
    )
    assert gitrepo.rev_parse(repo.path, "HEAD~1") == first


def test_materialize_writes_what_checkout_index_writes(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"deep/er/f.yaml": "f", "run.sh": "#!/bin/sh\n", "x": "x"})
    os.chmod(repo.path / "run.sh", 0o755)
    (repo.path / "deep" / "link").symlink_to("er/f.yaml")
    (repo.path / "out").symlink_to("../../etc/passwd")
    sha = repo.commit({})
    _git(repo.path, "update-index", "--add", "--cacheinfo", f"160000,{sha},sub")
    _git(repo.path, "commit", "-qm", "submodule")
    sha = gitrepo.rev_parse(repo.path, "HEAD")
    ours = GitSnapshot(repo.path, sha).materialize(tmp_path / "ours")
    theirs = tmp_path / "theirs"
    env = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "index")}
    subprocess.run(["git", "-C", str(repo.path), "read-tree", sha], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(repo.path), "checkout-index", "-a", "-f", f"--prefix={theirs}/"],
        check=True,
        env=env,
    )

    def listing(root: Path) -> dict[str, tuple[str, object]]:
        out: dict[str, tuple[str, object]] = {}
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", None)
            else:
                out[rel] = ("file", (path.read_bytes(), os.access(path, os.X_OK)))
        return out

    assert listing(ours) == listing(theirs)
    assert listing(ours)["run.sh"][1] == (b"#!/bin/sh\n", True)


def test_a_long_lived_reader_sees_new_commits_and_a_replaced_repository(make_repo) -> None:
    repo = make_repo({"a": "1"})
    first = gitrepo.rev_parse(repo.path, "main")
    second = repo.commit({"a": "2"})
    assert gitrepo.rev_parse(repo.path, "main") == second != first
    assert GitSnapshot(repo.path, second).read("a") == b"2"
    # the same path, another repository: the old reader must not answer for it
    shutil.rmtree(repo.path)
    again = GitRepo(repo.path)
    third = again.commit({"b": "3"})
    assert gitrepo.rev_parse(repo.path, "main") == third
    assert GitSnapshot(repo.path, third).files.keys() == {"b"}


def test_a_review_from_the_cache_starts_no_process(make_repo, tmp_path: Path) -> None:
    kustomization = "resources: [cm.yaml]\n"
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {k: '%s'}\n"
    repo = make_repo(
        {
            ".gitops-bot.yaml": "environments:\n  prod: {branch: main}\napps:\n"
            "  k: {renderer: kustomize, path: k, namespace: n}\n"
            "  p: {renderer: plain, path: p, namespace: n}\n",
            "k/kustomization.yaml": kustomization,
            "k/cm.yaml": cm % 1,
            "p/cm.yaml": cm % 1,
        }
    )
    repo.checkout("change", create=True)
    repo.commit({"k/cm.yaml": cm % 2, "p/cm.yaml": cm % 2})
    repo.commit({"README.md": "docs only\n"})
    tools = Tools.discover()
    tool_version(tools.require("kubectl"))  # once per process, not per review
    options = ReviewOptions(
        tools=tools, cache_dir=tmp_path / "cache", server_policies=None, enforce_approvals=False
    )
    gitbatch.close_all()
    before = proc.spawn_count()
    first = review_change(repo.path, "main", "change~1", options)
    # the repository's reader, its remote's URL (once), and kustomize for each side; plain
    # apps need no process
    assert proc.spawn_count() - before == 4
    assert [t.state.name for t in first.targets] == ["SUCCESS", "SUCCESS"]
    before = proc.spawn_count()
    again = review_change(repo.path, "main", "change", options)  # a docs-only push
    assert proc.spawn_count() - before == 0
    assert all(t.cached for t in again.targets) and len(again.targets) == 2
