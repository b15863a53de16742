"""The render sandbox: checkout scans, path containment and private work dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.errors import UserError
from bot.render.sandbox import private_dir, resolve_inside, scan_checkout
from tests.conftest import write_tree


def test_scan_flags_absolute_and_dotdot_symlinks_and_fifos_but_not_in_repo_links(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "other-job" / "secret.yaml"
    write_tree(
        tmp_path,
        {"other-job/secret.yaml": "token: hunter2\n", "repo/apps/a/cm.yaml": "kind: ConfigMap\n"},
    )
    repo = tmp_path / "repo"
    os.symlink("/etc/passwd", repo / "apps/a/abs.yaml")
    os.symlink("../../../other-job/secret.yaml", repo / "apps/a/values.yaml")
    os.symlink(outside.parent, repo / "linkdir")
    os.symlink("cm.yaml", repo / "apps/a/same.yaml")
    os.symlink("../a", repo / "apps/b")
    os.mkfifo(repo / "apps/a/pipe.yaml")
    findings = scan_checkout(repo)
    flagged = {f.file: f.message for f in findings}
    assert set(flagged) == {"apps/a/abs.yaml", "apps/a/values.yaml", "linkdir", "apps/a/pipe.yaml"}
    assert "points outside the repository" in flagged["apps/a/values.yaml"]
    assert "fifo" in flagged["apps/a/pipe.yaml"]
    assert all(f.check == "sandbox" and "hunter2" not in f.message for f in findings)


def test_resolve_inside_refuses_escapes_and_follows_in_repo_links(tmp_path: Path) -> None:
    write_tree(tmp_path, {"repo/a/v.yaml": "x: 1\n", "outside.yaml": "x: 2\n"})
    repo = tmp_path / "repo"
    os.symlink("../../outside.yaml", repo / "a/out.yaml")
    os.symlink("v.yaml", repo / "a/in.yaml")
    assert resolve_inside(repo, "a/in.yaml", "values file") == (repo / "a/v.yaml").resolve()
    for bad in ("../outside.yaml", "a/../../outside.yaml", "/etc/passwd", "a/out.yaml"):
        with pytest.raises(UserError, match=f"values file {bad} resolves outside the repository"):
            resolve_inside(repo, bad, "values file")


def test_private_dir_is_0700_and_removed_even_when_read_only(tmp_path: Path) -> None:
    with private_dir() as work:
        assert (work.stat().st_mode & 0o777) == 0o700
        (work / "ro" / "sub").mkdir(parents=True)
        (work / "ro" / "sub" / "f").write_text("x")
        os.chmod(work / "ro" / "sub", 0o500)
        os.chmod(work / "ro", 0o500)
    assert not work.exists()
