"""The bot reviews its own deploy/ folder: render, strict validation, default policies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"


def check(folder: Path | str, cache: Path) -> tuple[int, dict[str, Any], str]:
    """`python -m bot check FOLDER --format json` from the repository root."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "check",
            str(folder),
            "--format",
            "json",
            "--cache-dir",
            str(cache),
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    report = json.loads(proc.stdout) if proc.stdout.strip() else {}
    return proc.returncode, report, proc.stderr


def rendered(tools, folder: Path) -> int:
    out = subprocess.run(
        [tools.kubectl, "kustomize", str(folder)], check=True, capture_output=True, text=True
    ).stdout
    return sum(1 for d in yaml.safe_load_all(out) if d)


def findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report["findings"] + [f for t in report["targets"] for f in t["findings"]]


def show_warnings(report: dict[str, Any]) -> None:
    for f in findings(report):
        if f.get("severity") == "warning":
            print(f"warning: {f}")  # allowed, but listed (pytest -rP shows them)


def test_default_and_scale_out_pass_every_check(tools, tmp_path):
    code, report, stderr = check("deploy", tmp_path)
    show_warnings(report)
    assert code == 0, stderr + json.dumps(findings(report), indent=1)
    assert report["state"] == "success"
    assert not [f for f in findings(report) if f.get("severity") == "error"]
    targets = {t["id"]: t for t in report["targets"]}
    # deploy/.gitops-bot.yaml: both kustomize modes, the chart with each values file, Tekton
    assert set(targets) == {
        "kubernetes/default",
        "kubernetes-scale-out/default",
        "helm-sqlite/default",
        "helm-scale-out/default",
        "tekton/default",
    }
    for target in targets.values():
        assert target["counts"]["errors"] == 0 and target["counts"]["warnings"] == 0
    for target in (targets["kubernetes/default"], targets["kubernetes-scale-out/default"]):
        assert target["renderer"] == "kustomize"
        # every object rendered (and so validated and policy-checked), none silently dropped
        assert target["counts"]["created"] == rendered(tools, ROOT / "deploy" / target["path"]) > 10


def test_check_deploy_kubernetes_from_the_repo_root(tmp_path):
    code, report, stderr = check("deploy/kubernetes", tmp_path)
    show_warnings(report)
    assert code == 0, stderr
    scale_out = next(t for t in report["targets"] if t["path"] == "scale-out")
    assert scale_out["counts"]["created"] > 10 and scale_out["state"] == "success"


def test_root_app_of_deploy_kubernetes_is_rendered(tools, tmp_path):
    _, report, _ = check("deploy/kubernetes", tmp_path)
    root = next(t for t in report["targets"] if t["path"] == ".")
    assert root["counts"]["created"] == rendered(tools, KUBE)


def test_the_policies_really_ran(tmp_path):
    """Control: the same manifests with an unpinned image and root allowed must fail."""
    copy = tmp_path / "repo" / "kubernetes"
    shutil.copytree(KUBE, copy)
    web = copy / "base" / "web-deployment.yaml"
    text = web.read_text().replace("gitops-bot:0.1.0", "gitops-bot:latest")
    web.write_text(text.replace("runAsNonRoot: true", "runAsNonRoot: false"))
    code, report, _ = check(tmp_path / "repo", tmp_path / "cache")
    assert code == 1
    messages = " ".join(str(f.get("message")) for f in findings(report))
    assert ":latest" in messages and "runAsNonRoot" in messages
