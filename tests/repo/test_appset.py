"""ApplicationSet generators evaluated offline, on Argo CD's own examples (corpus) and small
cases written here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.repo.appset import Context, Unresolvable, expand
from bot.repo.appset_params import go_path_match, pathspec_match
from tests.corpus_changes import CORPUS

ROOT = CORPUS / "argoproj--argo-cd" / "applicationset-examples"
EXAMPLES = ROOT / "applicationset" / "examples"
ARGO = "https://github.com/argoproj/argo-cd.git"


def context(root: Path = ROOT) -> Context:
    files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    return Context(
        files,
        lambda f: (root / f).read_bytes() if (root / f).is_file() else None,
        lambda url, rev: url == ARGO and rev in ("", "HEAD"),
    )


def example(rel: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / rel).read_text())


def summary(apps: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted(
        (
            a["metadata"]["name"],
            a["spec"]["source"]["path"],
            f"{a['spec']['destination'].get('server')}|{a['spec']['destination'].get('namespace')}",
        )
        for a in apps
    )


@pytest.mark.parametrize(
    "name", ["list-generator/list-example.yaml", "list-generator/list-example-fasttemplate.yaml"]
)
def test_list_generator(name: str) -> None:
    base = "applicationset/examples/list-generator/guestbook/"
    assert summary(expand(example(name), context())) == [
        (
            "engineering-dev-guestbook",
            base + "engineering-dev",
            "https://kubernetes.default.svc|guestbook",
        ),
        (
            "engineering-prod-guestbook",
            base + "engineering-prod",
            "https://kubernetes.default.svc|guestbook",
        ),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "git-generator-files-discovery/git-generator-files.yaml",
        "git-generator-files-discovery/excludes/git-files-exclude-example.yaml",
    ],
)
def test_git_files_generator(name: str) -> None:
    names = [a["metadata"]["name"] for a in expand(example(name), context())]
    assert names == (
        ["engineering-dev-guestbook", "engineering-prod-guestbook"]
        if "excludes" not in name
        else ["engineering-prod-guestbook"]
    )


def test_git_directories_with_exclusion_and_go_template_of_a_map() -> None:
    apps = expand(
        example("git-generator-directory/excludes/git-directories-exclude-example.yaml"), context()
    )
    assert [a["metadata"]["name"] for a in apps] == ["argo-workflows", "prometheus-operator"]
    # '{{.path}}' prints the path map, as Argo CD would (and then cannot render it)
    assert apps[0]["spec"]["source"]["path"].startswith("map[basename:argo-workflows ")


def test_matrix_of_a_merge_and_a_matrix() -> None:
    apps = expand(example("matrix/matrix-and-union-in-matrix.yaml"), context())
    assert sorted(a["metadata"]["name"] for a in apps) == sorted(
        f"{p}-engineering-{c}-{s}"
        for p in ("first", "second")
        for c in ("dev", "prod")
        for s in ("1", "2")
    )  # engineering-test is not in the merge's first generator


def test_matrix_of_git_and_list_in_both_template_styles() -> None:
    go = summary(expand(example("matrix/list-and-git.yaml"), context()))
    fast = summary(expand(example("matrix/list-and-git-fasttemplate.yaml"), context()))
    assert go == fast and len(go) == 4
    assert (
        "argo-workflows-engineering-prod",
        "applicationset/examples/matrix/cluster-addons/argo-workflows",
        "https://2.4.6.8|argo-workflows",
    ) in go


def test_generator_template_overrides_the_applicationset_template() -> None:
    [app] = expand(example("template-override/template-overrides-example.yaml"), context())
    assert (
        app["spec"]["source"]["path"]
        == "applicationset/examples/template-override/engineering-dev-override"
    )
    assert app["spec"]["destination"]["namespace"] == "guestbook"  # filled from the template


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("cluster/cluster-example.yaml", "cluster generator needs Argo CD's cluster list"),
        ("pull-request-generator/pull-request-example.yaml", "forge's API"),
        ("matrix/list-and-list.yaml", 'map has no entry for key "path"'),
    ],
)
def test_what_needs_a_cluster_or_forge_or_fails_in_argocd_is_unresolvable(
    name: str, reason: str
) -> None:
    with pytest.raises(Unresolvable, match=reason):
        expand(example(name), context())


def test_fasttemplate_leaves_unknown_placeholders() -> None:
    apps = expand(example("matrix/list-and-list-fasttemplate.yaml"), context())
    assert {a["spec"]["source"]["path"] for a in apps} == {"{{path}}"}


def test_git_generator_of_another_repository_is_unresolvable() -> None:
    appset = example("list-generator/list-example.yaml")
    appset["spec"]["generators"] = [
        {
            "git": {
                "repoURL": "https://git.example/other.git",
                "revision": "HEAD",
                "directories": [{"path": "*"}],
            }
        }
    ]
    with pytest.raises(Unresolvable, match="reads https://git.example/other.git"):
        expand(appset, context())


def test_duplicate_application_names_are_refused_like_argocd() -> None:
    appset = example("list-generator/list-example.yaml")
    appset["spec"]["template"]["metadata"]["name"] = "same"
    with pytest.raises(Unresolvable, match="several Applications named same"):
        expand(appset, context())


def test_selector_and_values() -> None:
    appset = {
        "metadata": {"name": "s", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "generators": [
                {
                    "list": {
                        "elements": [{"name": "a", "tier": "gold"}, {"name": "b", "tier": "bronze"}]
                    },
                    "selector": {"matchLabels": {"tier": "gold"}},
                }
            ],
            "template": {
                "metadata": {"name": "{{ .name }}"},
                "spec": {
                    "source": {"repoURL": ARGO, "path": "x/{{ .name }}"},
                    "destination": {"name": "c", "namespace": "n"},
                },
            },
        },
    }
    [app] = expand(appset, context())
    assert app["metadata"] == {"name": "a", "namespace": "argocd"}


def test_globs() -> None:
    assert go_path_match("apps/*", "apps/web") and not go_path_match("apps/*", "apps/a/b")
    assert pathspec_match("cfg/**/config.json", "cfg/a/b/config.json")
    assert pathspec_match("cfg/*/dev/config.json", "cfg/eng/dev/config.json")
    assert pathspec_match("cfg", "cfg/x.json") and not pathspec_match("cf", "cfg/x.json")
