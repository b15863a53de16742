"""Targets from the Argo CD and Flux objects of the corpus render what the tools render:
each expectation here is an independent `helm template` / `kubectl kustomize` run with the
inputs Argo CD's repo server or kustomize-controller would give them (the Application's
helm values taken from the real render of its app-of-apps chart; the kustomization Flux
writes from the Kustomization's own fields)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.model import Target
from bot.pipeline.listing import list_targets
from bot.render import render_target
from bot.tools import Tools
from tests.corpus_changes import build_repo


def run(argv: list[str], cwd: Path) -> list[dict[str, Any]]:
    out = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=cwd).stdout
    return [d for d in yaml.load_all(out, Loader=yaml.CSafeLoader) if d]  # like libyaml/Go


def ours(repo: Path, target: Target, tools: Tools) -> list[Any]:
    result = render_target(repo, target, tools)
    assert result.ok, result.findings
    return [m.body for m in result.manifests]


@pytest.fixture(scope="module")
def eks(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> tuple[Path, list[Target]]:
    repo = build_repo("eks-blueprints-workloads", tmp_path_factory.mktemp("eks") / "repo")
    return repo, list_targets(repo, tools).targets


def applications(
    tools: Tools, repo: Path, release: str, chart: str, namespace: str, values: Path | None = None
) -> dict[str, Any]:
    assert tools.helm
    argv = [tools.helm, "template", release, chart, "--namespace", namespace]
    argv += ["--values", str(values)] if values else []
    return {d["metadata"]["name"]: d for d in run(argv, repo) if d["kind"] == "Application"}


@pytest.mark.parametrize(
    ("env", "app"), [("dev", "team-burnham"), ("prod", "team-riker"), ("test", "team-geordie")]
)
def test_app_of_apps_children_render_like_argocd(
    eks: tuple[Path, list[Target]], tools: Tools, env: str, app: str, tmp_path: Path
) -> None:
    repo, targets = eks
    root = next(t for t in targets if t.path == f"envs/{env}")
    apps = applications(tools, repo, root.release or root.app, f"envs/{env}", "default")
    source, dest = apps[app]["spec"]["source"], apps[app]["spec"]["destination"]
    values = tmp_path / "values.yaml"
    values.write_text(source["helm"]["values"])
    assert tools.helm
    expected = run(
        [
            tools.helm,
            "template",
            app,
            source["path"],
            "--namespace",
            dest["namespace"],
            "--kube-version",
            "1.35",
            "--include-crds",
            "--values",
            str(values),
        ],
        repo,
    )
    [target] = [t for t in targets if t.path == source["path"] and t.environment == env]
    assert target.app == app and target.namespace == dest["namespace"]
    assert ours(repo, target, tools) == expected


def test_second_level_app_of_apps_renders_like_argocd(
    eks: tuple[Path, list[Target]], tools: Tools, tmp_path: Path
) -> None:
    repo, targets = eks
    parent = applications(tools, repo, "envs-dev", "envs/dev", "default")["team-geordie"]
    values = tmp_path / "parent.yaml"
    values.write_text(parent["spec"]["source"]["helm"]["values"])
    child = applications(tools, repo, "team-geordie", "teams/team-geordie/dev", "argocd", values)[
        "yelb"
    ]
    (tmp_path / "child.yaml").write_text(child["spec"]["source"]["helm"]["values"])
    assert tools.helm
    expected = run(
        [
            tools.helm,
            "template",
            "yelb",
            "teams/team-geordie/dev/yelb",
            "--namespace",
            "geordie",
            "--kube-version",
            "1.35",
            "--include-crds",
            "--values",
            str(tmp_path / "child.yaml"),
        ],
        repo,
    )
    [target] = [t for t in targets if t.path == "teams/team-geordie/dev/yelb"]
    assert target.environment == "dev" and ours(repo, target, tools) == expected


@pytest.fixture(scope="module")
def appsets(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> tuple[Path, list[Target]]:
    repo = build_repo("argo-cd-applicationsets", tmp_path_factory.mktemp("as") / "repo")
    return repo, list_targets(repo, tools).targets


@pytest.mark.parametrize(
    "path",
    [
        "applicationset/examples/git-generator-files-discovery/apps/guestbook",
        "applicationset/examples/matrix/cluster-addons/argo-workflows",
        "applicationset/examples/template-override/engineering-dev-override",
    ],
)
def test_applicationset_kustomize_apps_build_like_kubectl(
    appsets: tuple[Path, list[Target]], tools: Tools, path: str
) -> None:
    repo, targets = appsets
    assert tools.kubectl
    expected = run([tools.kubectl, "kustomize", path], repo)
    for target in [t for t in targets if t.path == path]:
        assert ours(repo, target, tools) == expected


def test_applicationset_directory_apps_read_the_folder(
    appsets: tuple[Path, list[Target]], tools: Tools
) -> None:
    repo, targets = appsets
    path = "applicationset/examples/list-generator/guestbook/engineering-prod"
    expected = [
        d
        for f in sorted((repo / path).glob("*.yaml"))
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]
    found = [t for t in targets if t.path == path]
    assert len(found) == 5  # in-cluster/guestbook, and four matrix-and-union namespaces
    for target in found:
        assert ours(repo, target, tools) == expected


def flux_build(
    tools: Tools, repo: Path, folder: str, kustomization: dict[str, Any], tmp: Path
) -> list[Any]:
    copy = tmp / "copy"
    shutil.copytree(repo, copy)
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        (copy / folder / name).unlink(missing_ok=True)
    (copy / folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    assert tools.kubectl
    return run([tools.kubectl, "kustomize", folder], copy)


def test_flux_kustomizations_build_like_kustomize_controller(tools: Tools, tmp_path: Path) -> None:
    repo = build_repo("flux2-kustomize-helm-example", tmp_path / "repo")
    targets = {t.id: t for t in list_targets(repo, tools).targets}
    # infra-configs: the Kustomization's patches appended to infrastructure/configs'
    [configs] = [
        d
        for d in yaml.safe_load_all((repo / "clusters/production/infrastructure.yaml").read_text())
        if d["metadata"]["name"] == "infra-configs"
    ]
    kust = yaml.safe_load((repo / "infrastructure/configs/kustomization.yaml").read_text())
    kust["patches"] = configs["spec"]["patches"]
    expected = flux_build(tools, repo, "infrastructure/configs", kust, tmp_path / "a")
    built = ours(repo, targets["infra-configs/production"], tools)
    assert built == expected
    issuer = next(b for b in built if b["kind"] == "ClusterIssuer")
    assert issuer["spec"]["acme"]["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    # the bootstrap root: a kustomization kustomize-controller generates for the folder
    generated = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["./apps.yaml", "./artifacts.yaml", "./flux-system", "./infrastructure.yaml"],
    }
    expected = flux_build(tools, repo, "clusters/staging", generated, tmp_path / "b")
    assert ours(repo, targets["flux-system/staging"], tools) == expected
    # apps: the ExternalArtifact's ./staging is apps/staging of this repository
    assert tools.kubectl
    assert ours(repo, targets["apps/staging"], tools) == run(
        [tools.kubectl, "kustomize", "apps/staging"], repo
    )
