"""Kustomize targets with Argo CD's or Flux's edits build what `kubectl kustomize` builds
from the kustomization those tools write, and Flux's post-build steps follow."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.model import Target
from bot.render import render_target
from bot.repo import options
from bot.tools import Tools
from tests.conftest import write_tree

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          env:
            - {name: CLUSTER, value: "${cluster_name}"}
            - {name: REGION, value: "${region:=eu-west-1}"}
            - {name: SCRIPT, value: "echo $HOME"}
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""
RAW = """apiVersion: v1
kind: ConfigMap
metadata:
  name: raw
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  text: "${cluster_name}"
"""
BASE = {
    "apps/base/deployment.yaml": DEPLOY,
    "apps/base/service.yaml": SERVICE,
    "apps/base/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
    "apps/prod/kustomization.yaml": "resources: [../base]\nnamePrefix: prod-\n",
    "apps/plain/deployment.yaml": DEPLOY,
    "apps/plain/raw.yaml": RAW,
    "apps/plain/nested/kustomization.yaml": "resources: [svc.yaml]\n",
    "apps/plain/nested/svc.yaml": SERVICE.replace("name: web", "name: nested"),
}
PATCH = {
    "patch": "- op: replace\n  path: /spec/replicas\n  value: 3\n",
    "target": {"kind": "Deployment", "name": "web"},
}


def build(tools: Tools, root: Path, folder: str, kustomization: dict[str, Any]) -> list[Any]:
    """`kubectl kustomize` of `folder` in a copy of `root` whose kustomization is replaced."""
    copy = root.parent / f"expected-{len(list(root.parent.iterdir()))}"
    shutil.copytree(root, copy)
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        (copy / folder / name).unlink(missing_ok=True)
    (copy / folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    assert tools.kubectl
    out = subprocess.run(
        [tools.kubectl, "kustomize", str(copy / folder)], check=True, capture_output=True, text=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_tree(root, BASE)
    return root


def target(path: str, **opts: Any) -> Target:
    return Target(
        app="web", environment="prod", renderer="kustomize", path=path, options=options.encode(opts)
    )


def test_argocd_edits_build_like_kustomize_edit(repo: Path, tools: Tools) -> None:
    settings = {
        "namePrefix": "team-",
        "nameSuffix": "-v2",
        "images": ["nginx=nginx:1.27.4"],
        "commonLabels": {"team": "a"},
        "commonAnnotations": {"owner": "a@example.com"},
        "replicas": [{"name": "web", "count": 2}],
        "patches": [PATCH],
    }
    result = render_target(
        repo, target("apps/prod", kustomize=settings, kustomize_style="argocd"), tools
    )
    assert result.ok, result.findings
    # the kustomization `kustomize edit set/add ...` leaves behind in apps/prod
    expected = build(
        tools,
        repo,
        "apps/prod",
        {
            "resources": ["../base"],
            "namePrefix": "team-",
            "nameSuffix": "-v2",
            "images": [{"name": "nginx", "newName": "nginx", "newTag": "1.27.4"}],
            "replicas": [{"name": "web", "count": 2}],
            "commonLabels": {"team": "a"},
            "commonAnnotations": {"owner": "a@example.com"},
            "patches": [PATCH],
        },
    )
    assert [m.body for m in result.manifests] == expected
    deployment = next(m for m in result.manifests if m.kind == "Deployment")
    assert deployment.key.name == "team-web-v2" and deployment.file == "apps/base/deployment.yaml"
    assert deployment.body["spec"]["replicas"] == 2  # kustomize applies replicas after patches
    assert not any(p.name.startswith(".gitops-bot") for p in (repo / "apps").iterdir())


def test_flux_generates_a_kustomization_and_substitutes(repo: Path, tools: Tools) -> None:
    settings = {
        "namespace": "web",
        "images": [{"name": "nginx", "newTag": "1.27.4"}],
        "namePrefix": "flux-",
        "patches": [PATCH],
    }
    t = target(
        "apps/plain",
        kustomize=settings,
        kustomize_style="flux",
        generate=True,
        substitute={"vars": {"cluster_name": "prod-1"}},
        common_metadata={"labels": {"tenant": "a"}},
    )
    result = render_target(repo, t, tools)
    assert result.ok, result.findings
    # kustomize-controller's generated kustomization, with the Kustomization's fields
    expected = build(
        tools,
        repo,
        "apps/plain",
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["./deployment.yaml", "./nested", "./raw.yaml"],
            "namespace": "web",
            "namePrefix": "flux-",
            "patches": [PATCH],
            "images": [{"name": "nginx", "newTag": "1.27.4"}],
        },
    )
    bodies = {m.key.name: m.body for m in result.manifests}
    assert (
        sorted(bodies)
        == sorted(d["metadata"]["name"] for d in expected)
        == ["flux-nested", "flux-raw", "flux-web"]
    )
    env = bodies["flux-web"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [
        {"name": "CLUSTER", "value": "prod-1"},
        {"name": "REGION", "value": "eu-west-1"},
        {"name": "SCRIPT", "value": "echo $HOME"},
    ]
    assert bodies["flux-raw"]["data"]["text"] == "${cluster_name}"  # substitution disabled
    assert all(b["metadata"]["labels"]["tenant"] == "a" for b in bodies.values())
    container = bodies["flux-web"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27.4"


def test_variables_from_a_secret_stay_as_written(repo: Path, tools: Tools) -> None:
    t = target(
        "apps/plain",
        generate=True,
        kustomize_style="flux",
        substitute={"vars": {}, "keep_unknown": True},
    )
    result = render_target(repo, t, tools)
    web = next(m.body for m in result.manifests if m.key.name == "web")
    env = web["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "CLUSTER", "value": "${cluster_name}"}
    assert env[1] == {"name": "REGION", "value": "eu-west-1"}


def test_bad_substitution_names_the_object(repo: Path, tools: Tools) -> None:
    (repo / "apps/plain/deployment.yaml").write_text(
        DEPLOY.replace("${region:=eu-west-1}", "${region")
    )
    t = target(
        "apps/plain",
        generate=True,
        kustomize_style="flux",
        substitute={"vars": {"cluster_name": "x"}},
    )
    result = render_target(repo, t, tools)
    [finding] = [f for f in result.findings if "envsubst" in f.message]
    assert str(finding.object) == "Deployment/web"
    assert finding.message.endswith("variable substitution failed: missing closing brace")


def test_edit_errors_are_findings(repo: Path, tools: Tools) -> None:
    (repo / "apps/prod/kustomization.yaml").write_text(
        "resources: [../base]\ncommonLabels: {team: b}\n"
    )
    result = render_target(
        repo,
        target("apps/prod", kustomize={"commonLabels": {"team": "a"}}, kustomize_style="argocd"),
        tools,
    )
    assert not result.ok
    assert "label team already in kustomization" in result.findings[0].message


def test_repository_root_is_edited_in_a_private_copy(tmp_path: Path, tools: Tools) -> None:
    root = tmp_path / "root"
    write_tree(
        root, {"deployment.yaml": DEPLOY, "kustomization.yaml": "resources: [deployment.yaml]\n"}
    )
    result = render_target(
        root, target(".", kustomize={"namespace": "x"}, kustomize_style="flux"), tools
    )
    assert result.ok and result.manifests[0].body["metadata"]["namespace"] == "x"
    assert (root / "kustomization.yaml").read_text() == "resources: [deployment.yaml]\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]
