"""kustomize's origin wrapper: same output bytes for the same app in any checkout, and the
repository root still renders (kustomize refuses a root that contains another one)."""

from __future__ import annotations

from pathlib import Path

from bot.model import Target
from bot.render import parsecache, render_target
from bot.tools import Tools
from tests.conftest import write_tree

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n  k: v\n"


def _kust(path: str) -> Target:
    return Target(app="app", environment="env", renderer="kustomize", path=path)


def test_the_same_app_in_two_checkouts_is_parsed_once(tools: Tools, tmp_path: Path) -> None:
    files = {
        "apps/web/kustomization.yaml": "resources: [cm.yaml]\n",
        "apps/web/cm.yaml": CM.format("web-unique-name-for-this-test"),
    }
    base, head = tmp_path / "base", tmp_path / "head"
    write_tree(base, files)
    write_tree(head, files)
    first = render_target(base, _kust("apps/web"), tools)
    misses = parsecache.SHARED.misses
    second = render_target(head, _kust("apps/web"), tools)
    assert parsecache.SHARED.misses == misses  # byte for byte the same output
    assert (
        [m.file for m in first.manifests]
        == [m.file for m in second.manifests]
        == ["apps/web/cm.yaml"]
    )
    assert not list(base.glob(".gitops-bot-wrap-*"))  # the wrapper is gone afterwards


def test_the_repository_root_renders_as_an_app(tools: Tools, tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "kustomization.yaml": "resources: [cm.yaml, apps/web]\n",
            "cm.yaml": CM.format("root"),
            "apps/web/kustomization.yaml": "resources: [cm.yaml]\n",
            "apps/web/cm.yaml": CM.format("web"),
        },
    )
    root = render_target(tmp_path, _kust("."), tools)
    web = render_target(tmp_path, _kust("apps/web"), tools)
    assert not root.findings and not web.findings, (root.findings, web.findings)
    assert sorted((m.body["metadata"]["name"], m.file) for m in root.manifests) == [
        ("root", "cm.yaml"),
        ("web", "apps/web/cm.yaml"),
    ]
    assert [m.file for m in web.manifests] == ["apps/web/cm.yaml"]
