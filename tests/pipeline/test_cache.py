"""The render cache is proven: one function builds the key, and every input of a render
changes it — each file the target reads, its values files, the tool versions, the options,
the Kubernetes version, the CRDs and the policy revisions; a file it does not read does not."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.gitrepo import GitSnapshot, input_digest
from bot.model import Target
from bot.pipeline.cache import checks_key, render_key
from bot.render.sandbox import Budgets
from bot.repo.kustomize_refs import RepoIndex
from bot.repo.repo_config import ValidationSettings
from bot.repo.targets import target_inputs
from tests.conftest import GitRepo

TARGET = Target(
    "shop",
    "production",
    "helm",
    "charts/shop",
    values=("charts/shop/v.yaml",),
    release="shop",
    namespace="shop",
    kubernetes_version="1.35",
)
CHECKS: dict[str, Any] = {
    "validator": "EmbeddedValidator",
    "validation": ValidationSettings(),
    "schemas": "1.37.0",
    "crds": "c" * 64,
    "policies": "p" * 64,
}
KEY: dict[str, Any] = {
    "target": TARGET,
    "tool": "helm v4.1.4",
    "budgets": Budgets(),
    "inputs": "i" * 64,
    "checks": checks_key(**CHECKS),
    "namespace": "shop",
}

RENDER_VARIANTS: dict[str, dict[str, Any]] = {
    "values files": {"target": dataclasses.replace(TARGET, values=("charts/shop/w.yaml",))},
    "release": {"target": dataclasses.replace(TARGET, release="store")},
    "namespace": {"target": dataclasses.replace(TARGET, namespace="shop-2")},
    "kubernetes version": {"target": dataclasses.replace(TARGET, kubernetes_version="1.34")},
    "renderer": {"target": dataclasses.replace(TARGET, renderer="kustomize")},
    "path": {"target": dataclasses.replace(TARGET, path="charts/store")},
    "environment": {"target": dataclasses.replace(TARGET, environment="staging")},
    "tool version": {"tool": "helm v4.1.5"},
    "file budget": {"budgets": Budgets(max_file_bytes=1)},
    "render budget": {"budgets": Budgets(max_render_bytes=1)},
    "yaml budget": {"budgets": Budgets(max_yaml_nodes=1)},
    "render timeout": {"budgets": Budgets(render_timeout=1.0)},
    "files read": {"inputs": "j" * 64},
    "unchecked render": {"checks": None},
    "landing namespace (duplicates check)": {"namespace": "apps"},
}
CHECK_VARIANTS: dict[str, dict[str, Any]] = {
    "validator": {"validator": "KubeconformValidator"},
    "strict": {"validation": ValidationSettings(strict=False)},
    "skipped kinds": {"validation": ValidationSettings(skip_kinds=("SealedSecret",))},
    "CRD folders setting": {"validation": ValidationSettings(crd_dirs=("crds",))},
    "kubeconform setting": {"validation": ValidationSettings(kubeconform="never")},
    "schema package": {"schemas": "1.38.0"},
    "CRD contents": {"crds": "d" * 64},
    "policy revisions": {"policies": "q" * 64},
}


@pytest.mark.parametrize("name", sorted(RENDER_VARIANTS))
def test_each_render_input_changes_the_key(name: str) -> None:
    assert render_key(**{**KEY, **RENDER_VARIANTS[name]}) != render_key(**KEY)


@pytest.mark.parametrize("name", sorted(CHECK_VARIANTS))
def test_each_check_input_changes_the_key(name: str) -> None:
    checks = checks_key(**{**CHECKS, **CHECK_VARIANTS[name]})
    assert render_key(**{**KEY, "checks": checks}) != render_key(**KEY)


def test_the_key_is_stable() -> None:
    assert render_key(**KEY) == render_key(**dict(KEY))
    assert render_key(**KEY) == render_key(**{**KEY, "target": dataclasses.replace(TARGET)})


TREE = {
    # a kustomize target: its own files, a base outside its folder, a patch, generator files
    "apps/api/overlays/prod/kustomization.yaml": "resources: [../../base]\npatches: [{path: ../../../patches/replicas.yaml}]\n"
    "configMapGenerator:\n- {name: cfg, files: [../../../config/app.properties]}\n",
    "apps/api/base/kustomization.yaml": "resources: [deploy.yaml]\n",
    "apps/api/base/deploy.yaml": "kind: Deployment\n",
    "apps/patches/replicas.yaml": "spec: {replicas: 3}\n",
    "apps/config/app.properties": "a=b\n",
    # a helm chart with a values file and a file:// dependency outside its folder
    "charts/shop/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n"
    "dependencies:\n- {name: lib, repository: 'file://../lib'}\n",
    "charts/shop/templates/deploy.yaml": "kind: Deployment\n",
    "charts/shop/values.yaml": "a: 1\n",
    "values/shop-prod.yaml": "b: 2\n",
    "charts/lib/Chart.yaml": "apiVersion: v2\nname: lib\nversion: 0.1.0\n",
    "charts/lib/templates/_helpers.tpl": "{{/* */}}\n",
    # read by neither
    "README.md": "docs\n",
    "apps/other/cm.yaml": "kind: ConfigMap\n",
}
KUSTOMIZE = Target("api", "prod", "kustomize", "apps/api/overlays/prod")
HELM = Target("shop", "prod", "helm", "charts/shop", values=("values/shop-prod.yaml",))
READ = {
    KUSTOMIZE: [
        "apps/api/overlays/prod/kustomization.yaml",
        "apps/api/base/deploy.yaml",
        "apps/api/base/kustomization.yaml",
        "apps/patches/replicas.yaml",
        "apps/config/app.properties",
    ],
    HELM: [
        "charts/shop/Chart.yaml",
        "charts/shop/templates/deploy.yaml",
        "charts/shop/values.yaml",
        "values/shop-prod.yaml",
        "charts/lib/Chart.yaml",
        "charts/lib/templates/_helpers.tpl",
    ],
}


def _key(repo: GitRepo, sha: str, target: Target) -> str:
    snap = GitSnapshot(repo.path, sha)
    try:
        inputs = target_inputs(target, RepoIndex(snap.files), snap.read)
        return render_key(**{**KEY, "target": target, "inputs": input_digest(snap, inputs)})
    finally:
        snap.close()


@pytest.mark.parametrize("target", [KUSTOMIZE, HELM], ids=["kustomize", "helm"])
def test_every_file_a_target_reads_changes_its_key_and_no_other(
    target: Target, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    first = repo.commit(TREE)
    before = _key(repo, first, target)
    for path in READ[target]:
        sha = repo.commit({path: TREE[path] + "# edited\n"}, f"edit {path}")
        after = _key(repo, sha, target)
        assert after != before, f"{path} is read but does not change the key"
        before = after
    for path in ("README.md", "apps/other/cm.yaml"):
        sha = repo.commit({path: TREE[path] + "# edited\n"}, f"edit {path}")
        assert _key(repo, sha, target) == before, f"{path} is not read but changes the key"
