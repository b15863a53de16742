"""Argo CD Applications -> targets: source types, settings, environments, remote sources."""

from __future__ import annotations

from typing import Any

import pytest

from bot.model import Target
from bot.repo import options
from bot.repo.argocd import Reader
from bot.repo.gitops_objects import Found
from bot.repo.repourl import ThisRepo, decide, normalise_url

URL = "https://github.com/acme/gitops.git"
FILES = [
    "apps/web/kustomization.yaml",
    "apps/web/deploy.yaml",
    "charts/shop/Chart.yaml",
    "charts/shop/values.yaml",
    "envs/prod/shop.yaml",
    "plain/cm.yaml",
]
THIS = ThisRepo(frozenset({normalise_url(URL)}))


def app(
    source: dict[str, Any], name: str = "web", dest: dict[str, str] | None = None, **spec: Any
) -> Found:
    body: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "destination": dest
            or {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            **spec,
        },
    }
    if source:
        body["spec"]["source"] = source
    return Found(body, "argocd/apps.yaml", 3)


def targets(found: Found) -> list[Target]:
    return Reader(FILES, THIS).application(found).targets


def test_source_type_from_the_files_and_destination_environment() -> None:
    [t] = targets(app({"repoURL": URL, "path": "apps/web", "targetRevision": "HEAD"}))
    assert (t.app, t.environment, t.renderer, t.path, t.namespace) == (
        "web",
        "in-cluster/shop",
        "kustomize",
        "apps/web",
        "shop",
    )
    assert t.origin == "Argo CD Application web (argocd/apps.yaml:3)"
    opts = options.of(t)
    assert opts["argocd"] == {"application": "web", "namespace": "argocd"}
    assert opts["inputs"] == ["argocd/apps.yaml"]  # a change to the Application counts


def test_named_cluster_and_explicit_directory() -> None:
    [t] = targets(
        app(
            {"repoURL": URL, "path": "plain", "directory": {"recurse": True}},
            dest={"name": "prod-eu", "namespace": "web"},
        )
    )
    assert (t.environment, t.renderer) == ("prod-eu/web", "plain")
    assert options.of(t)["directory"] == {"recurse": True, "include": "", "exclude": ""}


def test_helm_settings_and_release_name() -> None:
    [t] = targets(
        app(
            {
                "repoURL": URL,
                "path": "charts/shop",
                "helm": {
                    "valueFiles": ["values.yaml", "../../envs/prod/shop.yaml"],
                    "releaseName": "shop",
                    "valuesObject": {"replicas": 2},
                    "parameters": [{"name": "a", "value": "b"}],
                },
            }
        )
    )
    assert (t.renderer, t.values, t.release) == (
        "helm",
        ("charts/shop/values.yaml", "envs/prod/shop.yaml"),
        "shop",
    )
    assert options.of(t)["helm"] == {
        "values_object": {"replicas": 2},
        "parameters": [{"name": "a", "value": "b"}],
    }


def test_multiple_sources_with_a_values_ref() -> None:
    found = app(
        {},
        sources=[
            {
                "repoURL": URL,
                "path": "charts/shop",
                "helm": {"valueFiles": ["$values/envs/prod/shop.yaml"]},
            },
            {"repoURL": URL, "targetRevision": "main", "ref": "values"},
        ],
    )
    [t] = targets(found)
    assert t.values == ("envs/prod/shop.yaml",)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ({"repoURL": "https://github.com/other/repo", "path": "x"}, "source in another repository"),
        (
            {"repoURL": "https://charts.example", "chart": "redis", "targetRevision": "1.2.3"},
            "chart redis 1.2.3 from a chart repository",
        ),
        (
            {"repoURL": URL, "path": "apps/web", "targetRevision": "v1.0"},
            "revision v1.0 of this repository, not the reviewed branch",
        ),
        (
            {"repoURL": URL, "path": "apps/web", "plugin": {"name": "x"}},
            "a config management plugin renders it",
        ),
    ],
)
def test_sources_outside_the_reviewed_revision_are_remote(
    source: dict[str, Any], reason: str
) -> None:
    [t] = targets(app(source))
    assert t.renderer == "remote" and t.path == "argocd/apps.yaml"
    assert options.of(t)["remote"]["reason"] == reason


def test_value_file_in_another_repository_makes_it_remote() -> None:
    found = app(
        {},
        sources=[
            {"repoURL": URL, "path": "charts/shop", "helm": {"valueFiles": ["$values/prod.yaml"]}},
            {"repoURL": "https://github.com/acme/values", "ref": "values"},
        ],
    )
    [t] = targets(found)
    assert t.renderer == "remote"
    assert (
        options.of(t)["remote"]["reason"]
        == "values file $values/prod.yaml is in https://github.com/acme/values"
    )


def test_missing_path_is_a_problem_not_a_target() -> None:
    result = Reader(FILES, THIS).application(app({"repoURL": URL, "path": "nope"}))
    assert result.targets == []
    assert result.problems == [
        "argocd/apps.yaml:3: Application web: path 'nope' is not a "
        "folder of this repository (Argo CD cannot render it)"
    ]


def test_app_of_apps_children_inherit_a_named_environment() -> None:
    parent = Target(app="root", environment="prod", renderer="helm", path="envs/prod")
    child = Found(app({"repoURL": URL, "path": "apps/web"}).body, "envs/prod/t.yaml", None, parent)
    [t] = Reader(FILES, THIS).application(child).targets
    assert t.environment == "prod" and "(rendered by root/prod)" in t.origin
    assert options.of(t)["parent"] == "envs/prod"


def test_this_repository_is_decided_in_order() -> None:
    used = [URL, URL, "https://github.com/acme/other"]
    assert decide(["git@github.com:acme/cfg.git"], [URL], used).urls == {"github.com/acme/cfg"}
    assert decide([], ["https://github.com/acme/x"], used).urls == {"github.com/acme/x"}
    chosen = decide([], [], used)
    assert chosen.urls == {"github.com/acme/gitops"} and "2 of 3" in chosen.how
    assert normalise_url("ssh://git@GitHub.com/acme/gitops.git/") == "github.com/acme/gitops"
