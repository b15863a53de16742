"""Renders see only their app: symlinks that leave a chart or a plain app, or enter `.git`."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from bot.model import Target
from bot.render import render_target
from bot.tools import Tools
from tests.conftest import git, write_tree
from tests.render.conftest import Recorded

CHART = "apiVersion: v2\nname: shop\nversion: 0.1.0\n"
# A template that copies a chart file into the rendered object, base64-encoded so that
# the plain-text redaction patterns cannot catch it.
LEAK = """apiVersion: v1
kind: ConfigMap
metadata:
  name: leak
data:
  x: {{ .Files.Get "files/link.txt" | b64enc | quote }}
"""
SECRET = "password: NEVER-SHOW-THIS\n"


def helm(path: str = "charts/shop") -> Target:
    return Target(app="shop", environment="prod", renderer="helm", path=path)


def plain(path: str = "apps/shop") -> Target:
    return Target(app="shop", environment="prod", renderer="plain", path=path)


def assert_nothing_leaked(result: object, *secrets: str) -> None:
    text = repr(result)
    for secret in secrets:
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode() not in text


def test_chart_symlink_to_a_repo_file_outside_the_chart_is_refused(
    tmp_path: Path, recorded: Recorded
) -> None:
    """Reproduces issue 14 item 3: `files/link.txt -> ../../../secret.txt` inside a chart
    was followed by `.Files.Get` because the target stays inside the repository; the
    chart could read any file of the checkout. Now refused, naming the link and its target
    as written, and helm never runs."""
    write_tree(
        tmp_path,
        {
            "secret.txt": SECRET,
            "charts/shop/Chart.yaml": CHART,
            "charts/shop/templates/cm.yaml": LEAK,
        },
    )
    (tmp_path / "charts/shop/files").mkdir()
    os.symlink("../../../secret.txt", tmp_path / "charts/shop/files/link.txt")
    result = render_target(tmp_path, helm(), recorded.tools)
    assert not result.ok and result.manifests == ()
    (finding,) = result.findings
    assert (finding.check, finding.file) == ("sandbox", "charts/shop/files/link.txt")
    assert finding.message == (
        "symlink charts/shop/files/link.txt -> ../../../secret.txt "
        "leaves the app charts/shop; refused"
    )
    assert recorded.calls() == []
    assert_nothing_leaked(result, "NEVER-SHOW-THIS")


def test_chart_symlink_into_git_is_refused_even_inside_the_app(
    tmp_path: Path, tools: Tools
) -> None:
    """Reproduces issue 14 item 3 for `.git/`: a chart at the repository root is one app
    with `.git/` inside it, so `files/link.txt -> ../.git/config` stayed inside the app and
    `.Files.Get ".git/config"` needed no link at all; the CI's `extraheader` credential was
    rendered. `.git/` is never copied into the sandbox and a link into it is refused."""
    write_tree(
        tmp_path,
        {
            "Chart.yaml": CHART,
            "templates/cm.yaml": LEAK,
            "templates/direct.yaml": LEAK.replace("leak", "direct").replace(
                "files/link.txt", ".git/config"
            ),
        },
    )
    git(tmp_path, "init", "-q")
    header = "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX1NFQ1JFVA=="
    git(tmp_path, "config", "http.https://github.com/.extraheader", header)
    (tmp_path / "files").mkdir()
    os.symlink("../.git/config", tmp_path / "files/link.txt")
    result = render_target(tmp_path, helm("."), tools)
    assert not result.ok
    assert [(f.check, f.file, f.message) for f in result.findings] == [
        (
            "sandbox",
            "files/link.txt",
            "symlink files/link.txt -> ../.git/config points into .git; refused",
        )
    ]
    assert_nothing_leaked(result, header, "extraheader")
    (tmp_path / "files/link.txt").unlink()
    direct = render_target(tmp_path, helm("."), tools)  # .git/ is simply not there
    assert direct.ok, direct.findings
    assert {m.key.name: m.body["data"]["x"] for m in direct.manifests} == {"leak": "", "direct": ""}


def test_symlinks_that_stay_inside_the_chart_keep_working(tmp_path: Path, tools: Tools) -> None:
    """In-app links render, also when written through `..` or pointing at folders (Argo CD's
    first out-of-bounds check refused such layouts); links elsewhere in the repository that
    the chart never reads do not block it."""
    write_tree(
        tmp_path,
        {
            "charts/shop/Chart.yaml": CHART,
            "charts/shop/templates/cm.yaml": LEAK,
            "charts/shop/data/real.txt": "hello from the chart\n",
            "charts/shop/data/more/x.txt": "x\n",
            "charts/shop/templates/dir.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dir\ndata:\n"
                '  x: {{ .Files.Get "files/linked/more/x.txt" | quote }}\n'
            ),
            "outside.txt": "not read by the chart\n",
        },
    )
    (tmp_path / "charts/shop/files").mkdir()
    os.symlink("../../shop/data/real.txt", tmp_path / "charts/shop/files/link.txt")
    os.symlink("../data", tmp_path / "charts/shop/files/linked")
    os.symlink("../../../outside.txt", tmp_path / "charts/other-link.txt")
    result = render_target(tmp_path, helm(), tools)
    assert result.ok, result.findings
    data = {m.key.name: m.body["data"]["x"] for m in result.manifests}
    assert base64.b64decode(data["leak"]) == b"hello from the chart\n"
    assert data["dir"] == "x\n"


def test_symlink_loop_inside_a_chart_is_refused(tmp_path: Path, tools: Tools) -> None:
    """A folder link back to its own parent made helm walk until the kernel's path limit
    and answer with a multi-kilobyte path; it is refused by name instead."""
    write_tree(
        tmp_path,
        {
            "charts/shop/Chart.yaml": CHART,
            "charts/shop/templates/cm.yaml": LEAK.replace("files/link.txt", "x"),
        },
    )
    os.symlink("..", tmp_path / "charts/shop/templates/loop")
    result = render_target(tmp_path, helm(), tools)
    assert [(f.file, f.message) for f in result.findings] == [
        (
            "charts/shop/templates/loop",
            "symlink charts/shop/templates/loop -> .. loops back into its own folder; refused",
        )
    ]


@pytest.mark.parametrize("link", ["../../shared/cm.yaml", "../other/cm.yaml"])
def test_plain_app_symlink_leaving_the_app_is_refused(
    tmp_path: Path, tools: Tools, link: str
) -> None:
    """Reproduces issue 14 item 3 for plain apps: a manifest linked to another folder of the
    repository (another team's app, or an untracked credential file in a CI workspace) was
    read and shown in the diff. Now refused, naming the link and its target as written."""
    write_tree(
        tmp_path,
        {
            "shared/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: NEVER-SHOW-THIS\n",
            "apps/other/cm.yaml": "kind: ConfigMap\n",
            "apps/shop/own.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: own\n",
        },
    )
    os.symlink(link, tmp_path / "apps/shop/linked.yaml")
    result = render_target(tmp_path, plain(), tools)
    assert not result.ok and result.manifests == ()
    assert [(f.check, f.file, f.message) for f in result.findings] == [
        (
            "sandbox",
            "apps/shop/linked.yaml",
            f"symlink apps/shop/linked.yaml -> {link} leaves the app apps/shop; refused",
        )
    ]
    assert_nothing_leaked(result, "NEVER-SHOW-THIS")


def test_plain_app_links_inside_the_app_render(tmp_path: Path, tools: Tools) -> None:
    """A plain app may link its own files (also through `..`); hidden files it never reads
    may point anywhere without blocking it."""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"
    write_tree(
        tmp_path,
        {"apps/shop/base/cm.yaml": cm.format("base"), "apps/shop/own.yaml": cm.format("own")},
    )
    os.symlink("../shop/base/cm.yaml", tmp_path / "apps/shop/linked.yaml")
    os.symlink("/etc/passwd", tmp_path / "apps/shop/.not-read")
    result = render_target(tmp_path, plain(), tools)
    assert result.ok, result.findings
    assert [(m.key.name, m.file) for m in result.manifests] == [
        ("base", "apps/shop/base/cm.yaml"),
        ("base", "apps/shop/linked.yaml"),
        ("own", "apps/shop/own.yaml"),
    ]
