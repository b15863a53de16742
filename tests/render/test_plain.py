"""The plain renderer through render_target: file order, lines, skips and refusals."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from bot.model import Severity, Target
from bot.render import Budgets, render_target
from bot.tools import Tools
from tests.conftest import GitRepo, write_tree

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"


def plain(path: str = "apps/shop") -> Target:
    return Target(app="shop", environment="prod", renderer="plain", path=path)


def test_plain_renders_yaml_files_sorted_with_repo_relative_files_and_lines(
        make_repo: Callable[..., GitRepo], tools: Tools) -> None:
    repo = make_repo({
        "apps/shop/b.yaml": "---\n" + CM.format("b1") + "---\n\n---\n" + CM.format("b2"),
        "apps/shop/a.yml": CM.format("a"),
        "apps/shop/sub/c.yaml": "apiVersion: v1\nkind: List\nitems:\n- " +
                                CM.format("c").replace("\n", "\n  ").rstrip() + "\n",
        "apps/shop/kustomization.yaml": "resources: []\n",
        "apps/shop/Chart.yaml": "name: x\n",
        "apps/shop/values-prod.yaml": "replicas: 3\n",
        "apps/shop/.hidden.yaml": CM.format("hidden"),
        "apps/shop/.git-crypt/k.yaml": CM.format("hidden2"),
        "apps/shop/README.md": "# not yaml\n",
        "apps/other/x.yaml": CM.format("other"),
    })
    result = render_target(repo.path, plain(), tools)
    assert result.ok and result.findings == ()
    assert [(m.key.name, m.file, m.line) for m in result.manifests] == [
        ("a", "apps/shop/a.yml", 1), ("b1", "apps/shop/b.yaml", 2),
        ("b2", "apps/shop/b.yaml", 9), ("c", "apps/shop/sub/c.yaml", 4)]


def test_symlinks_leaving_the_app_or_the_repository_are_refused(
        tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, {"secret.yaml": CM.format("LEAKED-SECRET-VALUE"),
                          "repo/shared/cm.yaml": CM.format("shared"),
                          "repo/apps/shop/own.yaml": CM.format("own")})
    repo = tmp_path / "repo"
    for link in ("../../shared/cm.yaml", "../../../secret.yaml", str(tmp_path / "secret.yaml")):
        (repo / "apps/shop/evil.yaml").unlink(missing_ok=True)
        os.symlink(link, repo / "apps/shop/evil.yaml")
        bad = render_target(repo, plain(), tools)
        assert not bad.ok and bad.manifests == ()
        assert [(f.check, f.file) for f in bad.findings] == [("sandbox", "apps/shop/evil.yaml")]
        assert bad.findings[0].message == (f"symlink apps/shop/evil.yaml -> {link} leaves the "
                                           "app apps/shop; refused")
        assert "LEAKED-SECRET-VALUE" not in repr(bad)


def test_target_path_escaping_the_repo_is_refused(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, {"repo/x.yaml": CM.format("x"), "elsewhere/y.yaml": CM.format("y")})
    for path in ("../elsewhere", "/etc", str(tmp_path / "elsewhere")):
        result = render_target(tmp_path / "repo", plain(path), tools)
        assert not result.ok and result.findings[0].check == "sandbox"
        assert "resolves outside the repository" in result.findings[0].message


def test_a_50_mb_manifest_is_refused_quickly_without_parsing(tmp_path: Path,
                                                              tools: Tools) -> None:
    write_tree(tmp_path, {"apps/shop/small.yaml": CM.format("small")})
    with open(tmp_path / "apps/shop/huge.yaml", "wb") as handle:
        handle.write(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n")
        chunk = b"  k: " + b"v" * 1000 + b"\n"
        handle.writelines(chunk for _ in range(50 * 1024))
    started = time.monotonic()
    result = render_target(tmp_path, plain(), tools)
    assert time.monotonic() - started < 1.0
    assert not result.ok and result.manifests == ()
    (finding,) = result.findings
    assert finding.file == "apps/shop/huge.yaml" and "too large" in finding.message


def test_total_bytes_budget_and_fifo_do_not_hang(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, {f"apps/shop/{i}.yaml": CM.format(f"c{i}") + "#" * 400
                          for i in range(10)})
    result = render_target(tmp_path, plain(), tools, Budgets(max_render_bytes=2000))
    assert not result.ok and "manifests too large" in result.findings[-1].message
    os.mkfifo(tmp_path / "apps/shop/zz.yaml")
    result = render_target(tmp_path, plain(), tools)
    assert [f.file for f in result.findings] == ["apps/shop/zz.yaml"]
    assert "not a regular file" in result.findings[0].message


def test_unknown_incomplete_and_hostile_documents_become_findings(tmp_path: Path,
                                                                  tools: Tools) -> None:
    write_tree(tmp_path, {"apps/shop/a.yaml": "kind: ConfigMap\n",
                          "apps/shop/b.yaml": "a: !!python/object/apply:os.system [id]\n",
                          "apps/shop/c.yaml": "a: [\n"})
    result = render_target(tmp_path, plain(), tools)
    assert [(f.severity, f.file, f.line) for f in result.findings] == [
        (Severity.ERROR, "apps/shop/a.yaml", 1), (Severity.ERROR, "apps/shop/b.yaml", 1),
        (Severity.ERROR, "apps/shop/c.yaml", 2)]


def test_missing_path_and_unknown_renderer_are_findings(tmp_path: Path, tools: Tools) -> None:
    result = render_target(tmp_path, plain("nope"), tools)
    assert not result.ok and "not a directory" in result.findings[0].message
    odd = Target(app="a", environment="e", renderer="jsonnet", path=".")
    assert "unknown renderer" in render_target(tmp_path, odd, tools).findings[0].message
