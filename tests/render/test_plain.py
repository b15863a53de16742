"""The plain renderer through render_target: file order, lines, skips and refusals."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.model import Severity, Target
from bot.render import Budgets, render_target
from bot.tools import Tools
from tests.conftest import GitRepo, write_tree

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"


def plain(path: str = "apps/shop") -> Target:
    return Target(app="shop", environment="prod", renderer="plain", path=path)


def test_plain_renders_yaml_files_sorted_with_repo_relative_files_and_lines(
    make_repo: Callable[..., GitRepo], tools: Tools
) -> None:
    repo = make_repo(
        {
            "apps/shop/b.yaml": "---\n" + CM.format("b1") + "---\n\n---\n" + CM.format("b2"),
            "apps/shop/a.yml": CM.format("a"),
            "apps/shop/sub/c.yaml": "apiVersion: v1\nkind: List\nitems:\n- "
            + CM.format("c").replace("\n", "\n  ").rstrip()
            + "\n",
            "apps/shop/kustomization.yaml": "resources: []\n",
            "apps/shop/Chart.yaml": "name: x\n",
            "apps/shop/values-prod.yaml": "replicas: 3\n",
            "apps/shop/.hidden.yaml": CM.format("hidden"),
            "apps/shop/.git-crypt/k.yaml": CM.format("hidden2"),
            "apps/shop/README.md": "# not yaml\n",
            "apps/other/x.yaml": CM.format("other"),
        }
    )
    result = render_target(repo.path, plain(), tools)
    assert result.ok
    assert [(f.severity, f.file) for f in result.findings] == [(Severity.INFO, "apps/shop")]
    assert result.findings[0].message.endswith(": apps/shop/values-prod.yaml")
    assert [(m.key.name, m.file, m.line) for m in result.manifests] == [
        ("a", "apps/shop/a.yml", 1),
        ("b1", "apps/shop/b.yaml", 2),
        ("b2", "apps/shop/b.yaml", 9),
        ("c", "apps/shop/sub/c.yaml", 4),
    ]


def test_symlinks_leaving_the_app_or_the_repository_are_refused(
    tmp_path: Path, tools: Tools
) -> None:
    write_tree(
        tmp_path,
        {
            "secret.yaml": CM.format("LEAKED-SECRET-VALUE"),
            "repo/shared/cm.yaml": CM.format("shared"),
            "repo/apps/shop/own.yaml": CM.format("own"),
        },
    )
    repo = tmp_path / "repo"
    for link in ("../../shared/cm.yaml", "../../../secret.yaml", str(tmp_path / "secret.yaml")):
        (repo / "apps/shop/evil.yaml").unlink(missing_ok=True)
        os.symlink(link, repo / "apps/shop/evil.yaml")
        bad = render_target(repo, plain(), tools)
        assert not bad.ok and bad.manifests == ()
        assert [(f.check, f.file) for f in bad.findings] == [("sandbox", "apps/shop/evil.yaml")]
        assert bad.findings[0].message == (
            f"symlink apps/shop/evil.yaml -> {link} leaves the app apps/shop; refused"
        )
        assert "LEAKED-SECRET-VALUE" not in repr(bad)


def test_target_path_escaping_the_repo_is_refused(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, {"repo/x.yaml": CM.format("x"), "elsewhere/y.yaml": CM.format("y")})
    for path in ("../elsewhere", "/etc", str(tmp_path / "elsewhere")):
        result = render_target(tmp_path / "repo", plain(path), tools)
        assert not result.ok and result.findings[0].check == "sandbox"
        assert "resolves outside the repository" in result.findings[0].message


def test_a_50_mb_manifest_is_refused_quickly_without_parsing(tmp_path: Path, tools: Tools) -> None:
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
    write_tree(tmp_path, {f"apps/shop/{i}.yaml": CM.format(f"c{i}") + "#" * 400 for i in range(10)})
    result = render_target(tmp_path, plain(), tools, Budgets(max_render_bytes=2000))
    assert not result.ok and "manifests too large" in result.findings[-1].message
    os.mkfifo(tmp_path / "apps/shop/zz.yaml")
    result = render_target(tmp_path, plain(), tools)
    assert [f.file for f in result.findings] == ["apps/shop/zz.yaml"]
    assert "not a regular file" in result.findings[0].message


def test_unknown_incomplete_and_hostile_documents_become_findings(
    tmp_path: Path, tools: Tools
) -> None:
    write_tree(
        tmp_path,
        {
            "apps/shop/a.yaml": "kind: ConfigMap\n",
            "apps/shop/b.yaml": "a: !!python/object/apply:os.system [id]\n",
            "apps/shop/c.yaml": "a: [\n",
        },
    )
    result = render_target(tmp_path, plain(), tools)
    assert [(f.severity, f.file, f.line) for f in result.findings] == [
        (Severity.ERROR, "apps/shop/a.yaml", 1),
        (Severity.ERROR, "apps/shop/b.yaml", 1),
        (Severity.ERROR, "apps/shop/c.yaml", 2),
    ]


def test_missing_path_and_unknown_renderer_are_findings(tmp_path: Path, tools: Tools) -> None:
    result = render_target(tmp_path, plain("nope"), tools)
    assert not result.ok and "not a file or directory" in result.findings[0].message
    odd = Target(app="a", environment="e", renderer="jsonnet", path=".")
    assert "unknown renderer" in render_target(tmp_path, odd, tools).findings[0].message


def test_subfolders_of_other_apps_kustomizations_and_charts_are_left_out(
    tmp_path: Path, tools: Tools
) -> None:
    write_tree(
        tmp_path,
        {
            "apps/shop/own.yaml": CM.format("own"),
            "apps/shop/more/deep.yaml": CM.format("deep"),
            "apps/shop/api/cm.yaml": CM.format("api"),  # another app's folder
            "apps/shop/base/kustomization.yaml": "resources: [cm.yaml]\n",
            "apps/shop/base/cm.yaml": CM.format("base"),
            "apps/shop/chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n",
            "apps/shop/chart/templates/cm.yaml": "{{ .Values.x }}\n",
        },
    )
    target = Target(
        app="shop",
        environment="prod",
        renderer="plain",
        path="apps/shop",
        exclude=("apps/shop/api",),
    )
    result = render_target(tmp_path, target, tools)
    assert result.ok and result.findings == ()
    assert [m.key.name for m in result.manifests] == ["deep", "own"]
    # kustomizations and charts are left out even when no app claims them
    assert [m.key.name for m in render_target(tmp_path, plain(), tools).manifests] == [
        "api",
        "deep",
        "own",
    ]


def test_yaml_that_is_no_object_is_skipped_with_a_note_and_the_objects_stay(
    tmp_path: Path, tools: Tools
) -> None:
    write_tree(
        tmp_path,
        {
            "apps/shop/a.yaml": CM.format("a"),
            "apps/shop/patch.yaml": "- op: replace\n  path: /spec/replicas\n  value: 3\n",
            "apps/shop/requirements.yaml": "dependencies:\n- name: redis\n  version: 1.0.0\n",
            "apps/shop/values.yaml": "replicaCount: 2\n",
            "apps/shop/kustomizeconfig.yaml": "nameReference:\n- kind: ConfigMap\n",
            "apps/shop/mixed.yaml": "x: 1\n---\n" + CM.format("m"),
            "apps/shop/scalar.yml": "just text\n",
        },
    )
    result = render_target(tmp_path, plain(), tools)
    assert result.ok and [m.key.name for m in result.manifests] == ["a", "m"]
    (note,) = result.findings
    assert note.severity is Severity.INFO and note.file == "apps/shop"
    assert note.message == (
        "skipped YAML that is not a Kubernetes object (no apiVersion and kind): "
        "apps/shop/kustomizeconfig.yaml, apps/shop/mixed.yaml, apps/shop/patch.yaml, "
        "apps/shop/requirements.yaml, apps/shop/scalar.yml, apps/shop/values.yaml"
    )


@pytest.mark.parametrize(
    "broken,reason",
    [
        ("kind: Deployment\nmetadata: {name: x}\n", "object has no apiVersion"),
        ("apiVersion: apps/v1\nmetadata: {name: x}\n", "object has no kind"),
        ("apiVersion: v1\nkind: ''\n", "object has no kind"),
        ("apiVersion: ''\nkind: ConfigMap\n", "object has no apiVersion"),
        ("apiVersion: v1\nkind: List\nitems:\n- {kind: ConfigMap}\n", "object has no apiVersion"),
    ],
)
def test_a_broken_object_is_an_error_even_beside_good_ones(
    tmp_path: Path, tools: Tools, broken: str, reason: str
) -> None:
    write_tree(tmp_path, {"apps/shop/a.yaml": CM.format("a"), "apps/shop/b.yaml": broken})
    result = render_target(tmp_path, plain(), tools)
    assert not result.ok
    assert [(f.severity, f.file, f.message) for f in result.findings] == [
        (Severity.ERROR, "apps/shop/b.yaml", reason)
    ]


def test_a_plain_target_may_be_one_file(tmp_path: Path, tools: Tools) -> None:
    write_tree(
        tmp_path,
        {
            "manifests/install.yaml": CM.format("a") + "---\n" + CM.format("b"),
            "manifests/namespace-install.yaml": CM.format("a"),
        },
    )
    result = render_target(tmp_path, plain("manifests/install.yaml"), tools)
    assert result.ok and [(m.key.name, m.file) for m in result.manifests] == [
        ("a", "manifests/install.yaml"),
        ("b", "manifests/install.yaml"),
    ]
    write_tree(tmp_path, {"secret.yaml": CM.format("x")})
    os.symlink("../secret.yaml", tmp_path / "manifests/link.yaml")
    assert render_target(tmp_path, plain("manifests/link.yaml"), tools).ok  # inside the repo
