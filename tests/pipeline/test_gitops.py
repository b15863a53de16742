"""Reviews of Argo CD / Flux repositories as they are: targets from their objects, the
custom resources validated from the catalogue, a typo in a Flux Kustomization found."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.model import DiffStatus, ReviewResult, Severity
from bot import proc
from bot.pipeline.change import review_change
from bot.pipeline.policies import DEFAULT_SERVER_POLICIES
from bot.policy import EmbeddedEngine
from bot.pipeline.review import ReviewOptions, review_worktree
from bot.tools import Tools
from tests.conftest import GitRepo, git
from tests.corpus_changes import apply_change, build_repo

FLUX = ["flux2-kustomize-helm-example", "flux2-multi-tenancy"]
TYPO_TARGET = {
    "flux2-kustomize-helm-example": ("flux-system/staging", "infra-controllers"),
    "flux2-multi-tenancy": ("flux-system/production", "tenants"),
}


def options(tools: Tools, tmp: Path) -> ReviewOptions:
    return ReviewOptions(
        tools=tools,
        cache_dir=tmp / "cache",
        validator="embedded",
        enforce_approvals=False,
        server_policies=None,
    )


def validate_findings(result: ReviewResult) -> list[str]:
    return [
        f"{t.target.id}: {f.object}: {f.message}"
        for t in result.targets
        for f in t.findings
        if f.check == "validate"
    ]


@pytest.mark.parametrize("name", FLUX)
def test_flux_examples_as_they_are_validate_without_skip_kinds(
    name: str, tools: Tools, tmp_path: Path
) -> None:
    repo = build_repo(name, tmp_path / "repo")
    assert not (repo / ".gitops-bot.yaml").exists()
    result = review_worktree(repo, options(tools, tmp_path))
    ids = {t.target.id for t in result.targets}
    assert {"flux-system/staging", "flux-system/production"} <= ids
    assert validate_findings(result) == []  # no "no schema", no error at all
    kinds = {str(f.object).split("/")[0] for t in result.targets for f in t.findings if f.object}
    assert kinds == set()
    errors = [f.message for t in result.targets for f in t.findings if f.severity is Severity.ERROR]
    assert errors == []


@pytest.mark.parametrize("name", FLUX)
def test_typo_in_a_flux_kustomization_is_an_unknown_field(
    name: str, tools: Tools, tmp_path: Path
) -> None:
    repo = build_repo(name, tmp_path / "repo")
    branch = apply_change(repo, name, "schema-error")
    result = review_change(repo, "main", branch, options(tools, tmp_path))
    target, kustomization = TYPO_TARGET[name]
    found = {
        f.message
        for t in result.targets
        if t.target.id == target
        for f in t.findings
        if f.check == "validate"
    }
    obj = f"Kustomization/flux-system/{kustomization}"
    assert found == {
        f"{obj}: spec: additional property 'prunee' is not allowed",
        f"{obj}: spec: missing required property 'prune'",
    }


@pytest.mark.parametrize("name", FLUX)
def test_a_flux_review_from_the_cache_renders_nothing_to_find_its_targets(
    name: str, tools: Tools, tmp_path: Path
) -> None:
    repo = build_repo(name, tmp_path / "repo")
    branch = apply_change(repo, name, "image-bump")
    opts = dataclasses.replace(  # one engine per process, as the service has: compiled once
        options(tools, tmp_path),
        server_policies=DEFAULT_SERVER_POLICIES,
        policy_engine=EmbeddedEngine(),
    )
    first = review_change(repo, "main", branch, opts)
    before = proc.spawn_count()
    again = review_change(repo, "main", branch, opts)
    assert proc.spawn_count() == before  # discovery's renders came from the cache too
    assert [t.target.id for t in again.targets] == [t.target.id for t in first.targets]
    assert all(t.cached for t in again.targets)


APP = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  source:
    repoURL: https://git.example/acme/fleet.git
    targetRevision: main
    path: {path}
    helm:
      valuesObject:
        replicas: {replicas}
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
"""
CHART = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "charts/web/values.yaml": "replicas: 1\n",
    "charts/web/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
    "  name: {{ .Release.Name }}\n  labels:\n"
    "    app.kubernetes.io/name: web\n"
    "data:\n  replicas: {{ .Values.replicas | quote }}\n",
}


def fleet(tmp_path: Path, config: str = "") -> GitRepo:
    repo = GitRepo(tmp_path / "fleet")
    files = {**CHART, "argocd/web.yaml": APP.format(name="web", path="charts/web", replicas=2)}
    if config:
        files[".gitops-bot.yaml"] = config
    repo.commit(files, "fleet")
    git(repo.path, "remote", "add", "origin", "git@git.example:acme/fleet.git")
    return repo


def review(repo: GitRepo, tools: Tools, tmp_path: Path, head: str) -> ReviewResult:
    return review_change(repo.path, "main", head, options(tools, tmp_path))


def test_application_values_change_renders_with_each_revisions_copy(
    tools: Tools, tmp_path: Path
) -> None:
    repo = fleet(tmp_path)
    repo.checkout("more", create=True)
    repo.commit({"argocd/web.yaml": APP.format(name="web", path="charts/web", replicas=5)})
    result = review(repo, tools, tmp_path, "more")
    by_id = {t.target.id: t for t in result.targets}
    web = by_id["web/in-cluster/shop"]
    [diff] = [d for d in web.diffs if d.status is DiffStatus.CHANGED]
    assert (str(diff.key), diff.changed_fields) == ("ConfigMap/web", ("data.replicas",))
    assert "-  replicas: '2'\n+  replicas: '5'" in diff.diff
    # the folder holding the Application shows the object change as well
    assert [
        d.changed_fields for d in by_id["argocd/default"].diffs if d.status is DiffStatus.CHANGED
    ] == [("spec.source.helm.valuesObject.replicas",)]
    assert any("This repository is git.example/acme/fleet" in n for n in result.notes)


def test_application_removed_or_added_by_the_change(tools: Tools, tmp_path: Path) -> None:
    repo = fleet(tmp_path)
    repo.checkout("swap", create=True)
    repo.commit(
        {
            "argocd/web.yaml": None,
            "argocd/api.yaml": APP.format(name="api", path="charts/web", replicas=1).replace(
                "namespace: shop", "namespace: api"
            ),
        }
    )
    by_id = {t.target.id: t for t in review(repo, tools, tmp_path, "swap").targets}
    assert [d.status for d in by_id["web/in-cluster/shop"].diffs] == [DiffStatus.DELETED]
    api = by_id["api/in-cluster/api"]
    assert api.target.origin.endswith("— new in this change")
    assert [d.status for d in api.diffs] == [DiffStatus.CREATED]


def test_a_renamed_application_is_one_target_compared_object_by_object(
    tools: Tools, tmp_path: Path
) -> None:
    repo = fleet(tmp_path)
    repo.checkout("rename", create=True)
    repo.commit({"argocd/web.yaml": APP.format(name="web-2", path="charts/web", replicas=2)})
    result = review(repo, tools, tmp_path, "rename")
    by_id = {t.target.id: t for t in result.targets}
    assert sorted(by_id) == ["argocd/default", "web/in-cluster/shop"]
    web = by_id["web/in-cluster/shop"]  # the chart names its ConfigMap after the release
    [diff] = web.diffs
    assert (diff.status, str(diff.key), str(diff.renamed_from)) == (
        DiffStatus.CHANGED,
        "ConfigMap/web-2",
        "ConfigMap/web",
    )
    assert any("Application web " in n and "is renamed" in n for n in result.notes)


def test_application_moved_to_another_revision_is_not_a_deletion(
    tools: Tools, tmp_path: Path
) -> None:
    repo = fleet(tmp_path)
    repo.checkout("pin", create=True)
    moved = APP.format(name="web", path="charts/web", replicas=2).replace(
        "targetRevision: main", "targetRevision: release-1.0"
    )
    repo.commit({"argocd/web.yaml": moved})
    result = review(repo, tools, tmp_path, "pin")
    by_id = {t.target.id: t for t in result.targets}
    web = by_id["web/in-cluster/shop"]
    assert (web.diffs, web.dangers) == ((), ())
    assert [(f.severity, f.message.split(";")[0]) for f in web.findings] == [
        (
            Severity.WARNING,
            "after this change not rendered here (its objects are not compared, "
            "and not deleted): remote source https://git.example/acme/fleet.git (revision "
            "release-1.0 of this repository, not the reviewed branch)",
        )
    ]
    # the Application's own change is reviewed where it is defined
    assert [
        d.changed_fields for d in by_id["argocd/default"].diffs if d.status is DiffStatus.CHANGED
    ] == [("spec.source.targetRevision",)]


def test_apps_of_an_app_moved_to_another_revision_are_not_deletions(
    tools: Tools, tmp_path: Path
) -> None:
    repo = fleet(tmp_path)
    child = APP.format(name="web", path="charts/web", replicas=2)
    repo.commit(
        {
            "argocd/web.yaml": None,
            "charts/apps/Chart.yaml": "apiVersion: v2\nname: apps\nversion: 0.1.0\n",
            "charts/apps/templates/web.yaml": child,
            "argocd/root.yaml": APP.format(name="root", path="charts/apps", replicas=1),
        }
    )
    repo.checkout("pin", create=True)
    repo.commit(
        {
            "argocd/root.yaml": APP.format(name="root", path="charts/apps", replicas=1).replace(
                "targetRevision: main", "targetRevision: release-1.0"
            )
        }
    )
    by_id = {t.target.id: t for t in review(repo, tools, tmp_path, "pin").targets}
    web = by_id["web/in-cluster/shop"]
    assert (web.diffs, web.dangers) == ((), ())
    [finding] = web.findings
    assert finding.severity is Severity.WARNING
    assert "its parent root/in-cluster/shop is not rendered here either" in finding.message


def test_config_maps_destinations_to_environments_and_chooses_the_source(
    tools: Tools, tmp_path: Path
) -> None:
    config = (
        "environments:\n  production:\n    kubernetes_version: '1.33'\n"
        "    destinations: ['in-cluster/*']\napps:\n  from: {mode}\n"
    )
    for mode, ids in (
        ("argocd", {"web/production"}),
        ("folders", {"argocd/production", "charts-web/production"}),
    ):
        repo = fleet(tmp_path / mode, config.format(mode=mode))
        result = review_worktree(repo.path, options(tools, tmp_path / mode))
        assert {t.target.id for t in result.targets} == ids
        if mode == "argocd":
            assert result.targets[0].target.kubernetes_version == "1.33"
