"""The Helm chart of the bot itself (deploy/helm/gitops-bot): `helm lint --strict` clean for
each values file, what each mode renders, credentials only by reference, and the bot's own
review of it (`gitops-bot check deploy`) failing when the chart breaks a policy or the
Tekton Task breaks its CRD's schema."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.tools import Tools

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "gitops-bot"
VALUES = {
    "default": [],
    "sqlite": ["-f", str(CHART / "values-sqlite.yaml")],
    "scale-out": ["-f", str(CHART / "values-scale-out.yaml")],
}


# The namespace the bot runs in, which the default change policies protect
# (docs/security.md#case-75).
OWN_NAMESPACE = {
    "name": "GITOPS_BOT_NAMESPACE",
    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
}


def helm(tools: Tools, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tools.helm), *args], capture_output=True, text=True, timeout=120)


def template(tools: Tools, mode: str, *extra: str) -> list[dict[str, Any]]:
    done = helm(
        tools,
        "template",
        "gitops-bot",
        str(CHART),
        "--namespace",
        "gitops-bot",
        *VALUES[mode],
        *extra,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for o in objects:
        out.setdefault(o["kind"], []).append(o)
    return out


@pytest.mark.parametrize("mode", sorted(VALUES))
def test_helm_lint_strict_is_clean(tools: Tools, mode: str) -> None:
    done = helm(tools, "lint", "--strict", str(CHART), *VALUES[mode])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout


def test_sqlite_mode_is_one_web_one_worker_on_one_volume(tools: Tools) -> None:
    kinds = by_kind(template(tools, "sqlite"))
    web, worker = sorted(kinds["Deployment"], key=lambda d: d["metadata"]["name"])
    assert (web["metadata"]["name"], worker["metadata"]["name"]) == (
        "gitops-bot-web",
        "gitops-bot-worker",
    )
    assert web["spec"]["replicas"] == worker["spec"]["replicas"] == 1
    [pvc] = kinds["PersistentVolumeClaim"]
    for deployment in (web, worker):
        pod = deployment["spec"]["template"]["spec"]
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in pod["volumes"]
            if "persistentVolumeClaim" in v
        ]
        assert claims == [pvc["metadata"]["name"]]
        assert "podAffinity" in pod["affinity"]  # together on the volume's node
        # no external store: only the namespace the bot runs in, from the pod
        assert pod["containers"][0]["env"] == [OWN_NAMESPACE]
    assert web["spec"]["template"]["spec"]["containers"][0]["args"][0] == "web"
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"][0] == "worker"
    assert "ServiceMonitor" not in kinds and "PodDisruptionBudget" not in kinds


def test_scale_out_mode_uses_postgres_and_redis_from_the_secret(tools: Tools) -> None:
    kinds = by_kind(template(tools, "scale-out", "--set", "deployTargets.namespaces={shop}"))
    assert "PersistentVolumeClaim" not in kinds
    for deployment in kinds["Deployment"]:
        assert deployment["spec"]["replicas"] == 3
        pod = deployment["spec"]["template"]["spec"]
        env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in pod["containers"][0]["env"][1:]}
        assert pod["containers"][0]["env"][0] == OWN_NAMESPACE
        assert env == {
            "GITOPS_BOT_DATABASE_URL": {
                "name": "gitops-bot-credentials",
                "key": "GITOPS_BOT_DATABASE_URL",
            },
            "GITOPS_BOT_QUEUE_URL": {
                "name": "gitops-bot-credentials",
                "key": "GITOPS_BOT_QUEUE_URL",
            },
        }
        assert "podAntiAffinity" in pod["affinity"]
        assert all("persistentVolumeClaim" not in v for v in pod["volumes"])
    [monitor] = kinds["ServiceMonitor"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert len(kinds["PodDisruptionBudget"]) == 2
    [role] = kinds["Role"]
    assert role["metadata"]["namespace"] == "shop" and "ClusterRole" not in kinds
    [service] = kinds["Service"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "web"


def test_credentials_are_references_never_values(tools: Tools) -> None:
    for mode in VALUES:
        objects = template(tools, mode)
        assert "Secret" not in by_kind(objects)
        for d in by_kind(objects)["Deployment"]:
            sources = d["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            assert {"secretRef": {"name": "gitops-bot-credentials"}} in sources
    done = helm(
        tools,
        "template",
        "gitops-bot",
        str(CHART),
        "--set",
        "config.GITOPS_BOT_GITHUB_TOKEN=ghp_nope",
    )
    assert done.returncode != 0 and "is a credential" in done.stderr
    assert "ghp_nope" not in done.stderr
    app = by_kind(template(tools, "default", "--set", "githubApp.existingSecret=gh-app"))
    pod = app["Deployment"][0]["spec"]["template"]["spec"]
    assert {"name": "github-app", "secret": {"secretName": "gh-app", "defaultMode": 0o400}} in pod[
        "volumes"
    ]


def check(folder: Path, cache: Path) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
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
        timeout=300,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


def test_the_bots_review_of_deploy_really_checks_the_chart_and_the_task(tmp_path: Path) -> None:
    """Control copies of deploy/: an unpinned image in the chart, a Task field of the wrong
    type. Both must fail the bot's review, so the clean run means something."""
    copy = tmp_path / "deploy"
    shutil.copytree(ROOT / "deploy", copy)
    values = copy / "helm/gitops-bot/values-scale-out.yaml"
    values.write_text(values.read_text() + "image:\n  tag: latest\n")
    task = copy / "tekton/gitops-bot-check.yaml"
    text = task.read_text()
    assert "    - name: check\n" in text
    task.write_text(text.replace("    - name: check\n", "    - name: [check]\n"))
    code, report = check(copy, tmp_path / "cache")
    assert code == 1
    found = {
        t["id"]: [f["message"] for f in t["findings"] if f["severity"] == "error"]
        for t in report["targets"]
    }
    assert any(":latest" in m for m in found["helm-scale-out/default"])
    assert found["helm-sqlite/default"] == []
    assert found["tekton/default"] == [
        "Task/gitops-bot-check: spec.steps[0].name: ['check'] is not of type 'string'"
    ]
