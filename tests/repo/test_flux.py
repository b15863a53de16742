"""Flux Kustomizations and HelmReleases -> targets: sources, fields, variables, values."""

from __future__ import annotations

from typing import Any

from bot.model import Target
from bot.repo import options
from bot.repo.flux import bootstrap_roots, read_all
from bot.repo.gitops_objects import Found
from bot.repo.repourl import ThisRepo, normalise_url

URL = "https://github.com/acme/fleet"
THIS = ThisRepo(frozenset({normalise_url(URL)}))
FILES = [
    "clusters/prod/flux-system/gotk-sync.yaml",
    "clusters/prod/apps.yaml",
    "apps/prod/kustomization.yaml",
    "apps/base/web.yaml",
    "apps/vars.yaml",
    "infra/deploy.yaml",
    "charts/web/Chart.yaml",
    "charts/web/values.yaml",
    "charts/web/values-prod.yaml",
]


def obj(
    kind: str,
    name: str,
    spec: dict[str, Any],
    ns: str = "flux-system",
    api: str = "",
    file: str = "clusters/prod/apps.yaml",
    **extra: Any,
) -> Found:
    group = {
        "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
        "HelmRelease": "helm.toolkit.fluxcd.io/v2",
        "ConfigMap": "v1",
        "ArtifactGenerator": "source.extensions.fluxcd.io/v1beta1",
    }.get(kind, "source.toolkit.fluxcd.io/v1")
    return Found(
        {
            "apiVersion": api or group,
            "kind": kind,
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
            **extra,
        },
        file,
        1,
    )


def read(*found: Found) -> tuple[list[Target], list[str]]:
    result = read_all(list(found), FILES, THIS)
    return result.targets, result.problems


def test_bootstrap_folder_names_the_environment() -> None:
    assert bootstrap_roots(FILES) == {"clusters/prod": "prod"}


def test_kustomization_from_the_bootstrap_source_with_fields_and_variables() -> None:
    ks = obj(
        "Kustomization",
        "apps",
        {
            "path": "./apps/prod",
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            "targetNamespace": "web",
            "images": [{"name": "nginx", "newTag": "1.27"}],
            "patches": [{"patch": "p", "target": {"kind": "Deployment"}}],
            "postBuild": {
                "substitute": {"region": "eu"},
                "substituteFrom": [
                    {"kind": "ConfigMap", "name": "vars"},
                    {"kind": "Secret", "name": "creds"},
                ],
            },
        },
    )
    cm = obj(
        "ConfigMap", "vars", {}, file="apps/vars.yaml", data={"region": "us", "cluster": "prod-1\n"}
    )
    [t], problems = read(ks, cm)
    assert (t.app, t.environment, t.renderer, t.path, t.namespace) == (
        "apps",
        "prod",
        "kustomize",
        "apps/prod",
        "web",
    )
    opts = options.of(t)
    assert opts["kustomize"] == {
        "namespace": "web",
        "images": [{"name": "nginx", "newTag": "1.27"}],
        "patches": [{"patch": "p", "target": {"kind": "Deployment"}}],
    }
    assert opts["kustomize_style"] == "flux" and "generate" not in opts
    # ConfigMap first, `substitute` on top; newlines dropped as Flux drops them
    assert opts["substitute"] == {
        "vars": {"region": "eu", "cluster": "prod-1"},
        "keep_unknown": True,
    }
    assert opts["inputs"] == ["apps/vars.yaml", "clusters/prod/apps.yaml"]
    assert problems == [
        "clusters/prod/apps.yaml:1: Kustomization apps: variables from "
        "Secret creds are not read (they stay as written)"
    ]


def test_folder_without_kustomization_is_generated() -> None:
    [t], _ = read(
        obj(
            "Kustomization",
            "infra",
            {"path": "infra", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
        )
    )
    assert t.path == "infra" and options.of(t)["generate"] is True


def test_other_branches_and_oci_are_remote() -> None:
    repo = obj("GitRepository", "tenant", {"url": URL, "ref": {"branch": "tenant"}})
    oci = obj("OCIRepository", "kyverno", {"url": "oci://ghcr.io/kyverno/manifests"})
    a = obj("Kustomization", "a", {"sourceRef": {"kind": "GitRepository", "name": "tenant"}})
    b = obj("Kustomization", "b", {"sourceRef": {"kind": "OCIRepository", "name": "kyverno"}})
    targets, _ = read(repo, oci, a, b)
    reasons = {t.app: options.of(t)["remote"] for t in targets}
    assert {t.renderer for t in targets} == {"remote"}
    assert reasons["a"]["reason"] == (
        "GitRepository tenant of this repository at branch tenant (not the reviewed branch)"
    )
    assert reasons["b"] == {
        "url": "oci://ghcr.io/kyverno/manifests",
        "path": "./",
        "reason": "OCIRepository flux-system/kyverno oci://ghcr.io/kyverno/manifests",
    }


def test_external_artifact_maps_through_the_generator() -> None:
    gen = obj(
        "ArtifactGenerator",
        "gen",
        {
            "sources": [{"alias": "repo", "kind": "GitRepository", "name": "flux-system"}],
            "artifacts": [
                {
                    "name": "apps",
                    "copy": [
                        {"from": "@repo/apps/base/**", "to": "@artifact/base/"},
                        {"from": "@repo/apps/prod/**", "to": "@artifact/prod/"},
                    ],
                }
            ],
        },
    )
    ks = obj(
        "Kustomization",
        "apps",
        {"path": "./prod", "sourceRef": {"kind": "ExternalArtifact", "name": "apps"}},
    )
    [t], _ = read(gen, ks)
    assert t.path == "apps/prod"


def test_helm_release_with_an_in_repo_chart_merges_values() -> None:
    hr = obj(
        "HelmRelease",
        "web",
        {
            "chart": {
                "spec": {
                    "chart": "./charts/web",
                    "valuesFiles": ["charts/web/values.yaml", "charts/web/values-prod.yaml"],
                    "sourceRef": {
                        "kind": "GitRepository",
                        "name": "flux-system",
                        "namespace": "flux-system",
                    },
                }
            },
            "targetNamespace": "shop",
            "valuesFrom": [
                {"kind": "ConfigMap", "name": "web-values"},
                {
                    "kind": "ConfigMap",
                    "name": "web-values",
                    "valuesKey": "tag",
                    "targetPath": "image.tag",
                },
            ],
            "values": {"replicas": 3, "image": {"repository": "web"}},
        },
        ns="web",
    )
    cm = obj(
        "ConfigMap",
        "web-values",
        {},
        ns="web",
        file="apps/vars.yaml",
        data={"values.yaml": "replicas: 1\nimage: {pullPolicy: Always}\n", "tag": "2.0"},
    )
    [t], problems = read(hr, cm)
    assert problems == []
    assert (t.renderer, t.path, t.release, t.namespace) == (
        "helm",
        "charts/web",
        "shop-web",
        "shop",
    )
    assert options.of(t)["helm"] == {
        "values_object": {
            "replicas": 3,
            "image": {"pullPolicy": "Always", "tag": "2.0", "repository": "web"},
        },
        "chart_values": ["charts/web/values.yaml", "charts/web/values-prod.yaml"],
    }


def test_helm_release_from_a_chart_repository_is_remote() -> None:
    repo = obj(
        "HelmRepository", "podinfo", {"url": "https://stefanprodan.github.io/podinfo"}, ns="web"
    )
    hr = obj(
        "HelmRelease",
        "podinfo",
        {
            "chart": {
                "spec": {
                    "chart": "podinfo",
                    "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
                }
            }
        },
        ns="web",
    )
    [t], _ = read(repo, hr)
    assert t.renderer == "remote"
    assert (
        options.of(t)["remote"]["reason"]
        == "chart podinfo from HelmRepository podinfo https://stefanprodan.github.io/podinfo"
    )
