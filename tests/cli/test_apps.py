"""`gitops-bot apps`: the targets a user will get reviewed, as text and JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from tests.conftest import git
from tests.corpus_changes import CORPUS, build_repo


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["apps", *args])
    return result.exit_code, result.output


def test_apps_lists_the_discovered_targets_of_a_real_repository(tmp_path: Path) -> None:
    repo = tmp_path / "podinfo"
    shutil.copytree(CORPUS / "stefanprodan--podinfo", repo)
    code, out = run(str(repo), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["environments"] == ["default", "dev", "prod", "production", "staging"]
    got = {
        (
            t["app"],
            t["environment"],
            t["renderer"],
            t["path"],
            tuple(t["values"]),
            t["release"],
            t["source"],
        )
        for t in data["targets"]
    }
    assert got == {
        ("charts-podinfo", "default", "helm", "charts/podinfo", (), "podinfo", "folders"),
        (
            "charts-podinfo",
            "prod",
            "helm",
            "charts/podinfo",
            ("charts/podinfo/values-prod.yaml",),
            "podinfo",
            "folders",
        ),
        ("deploy", "dev", "kustomize", "deploy/overlays/dev", (), None, "folders"),
        ("deploy", "staging", "kustomize", "deploy/overlays/staging", (), None, "folders"),
        ("deploy", "production", "kustomize", "deploy/overlays/production", (), None, "folders"),
        ("deploy-secure", "default", "plain", "deploy/secure", (), None, "folders"),
        ("deploy-webapp", "default", "plain", "deploy/webapp", (), None, "folders"),
        ("kustomize", "default", "kustomize", "kustomize", (), None, "folders"),
    }
    dev = next(t for t in data["targets"] if t["environment"] == "dev")
    assert "deploy/bases/cache/redis.conf" in dev["inputs"]
    assert "deploy/overlays/dev/kustomization.yaml" in dev["inputs"]
    assert "deploy/overlays/dev/kustomization.yml" not in dev["inputs"]  # not a real file

    code, text = run(str(repo), "--env", "prod")
    assert code == 0
    assert (
        text.splitlines()[0] == "1 apps, 1 targets; environments: default, dev, prod, "
        "production, staging"
    )
    assert (
        "charts-podinfo/prod  helm      charts/podinfo -f charts/podinfo/values-prod.yaml"
        "  folders" in text
    )


def test_apps_reads_a_revision_and_names_configured_apps(tmp_path: Path) -> None:
    repo = build_repo("kustomize-examples", tmp_path / "k")
    (repo / ".gitops-bot.yaml").write_text(
        "environments: {staging: {}, production: {}}\n"
        "apps:\n  wordpress: {path: examples/wordpress}\n"
    )
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "config")
    code, out = run(str(repo), "--rev", "HEAD", "--format", "json")
    assert code == 0
    assert [
        (t["app"], t["environment"], t["renderer"], t["source"]) for t in json.loads(out)["targets"]
    ] == [
        ("wordpress", "staging", "kustomize", "config"),
        ("wordpress", "production", "kustomize", "config"),
    ]
    code, out = run(str(repo), "--rev", "HEAD~1", "--format", "json")
    assert code == 0 and len(json.loads(out)["targets"]) == 9  # discovered before the config


def test_apps_reports_bad_input_clearly(tmp_path: Path) -> None:
    (tmp_path / ".gitops-bot.yaml").write_text("apps:\n  web: {}\n")
    code, out = run(str(tmp_path))
    assert code == 2 and ".gitops-bot.yaml" in out and "path" in out
    code, out = run(str(tmp_path / "missing"))
    assert code == 2 and "is not a directory" in out
