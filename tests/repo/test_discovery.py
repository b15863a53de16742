"""Discovery of apps in a repository without `.gitops-bot.yaml`."""
from __future__ import annotations

from tests.repo.config_trees import DEPLOYMENT, REALISTIC, reader

from bot.repo.discovery import app_name, discover_config, looks_like_manifest
from bot.repo.repo_config import Environment


def apps_of(tree: dict[str, str]) -> list[tuple[str, str | None, str | None]]:
    config = discover_config(tree, reader(tree))
    assert config.discovered and config.environments == (Environment("default"),)
    return [(a.name, a.path, a.renderer) for a in config.apps]


def test_realistic_tree_finds_exactly_the_apps() -> None:
    assert apps_of(REALISTIC) == [
        ("apps-api-overlays-production", "apps/api/overlays/production", "kustomize"),
        ("apps-api-overlays-staging", "apps/api/overlays/staging", "kustomize"),
        ("apps-web", "apps/web", "plain"),
        ("charts-shop", "charts/shop", "helm"),
    ]  # not: the base, the component, the vendored redis subchart, policies, docs, .github


def test_unreferenced_kustomization_is_an_app_and_plain_refs_are_inputs() -> None:
    tree = {
        "base/kustomization.yaml": "resources: [cm.yaml]\n",
        "base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        "shared/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        "shared/other.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: c}\n",
        "cluster/kustomization.yaml": "resources: [../base, ../shared/extra.yaml]\n",
        "loose/one.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
        "loose/nested/two.yml": "kind: Namespace\napiVersion: v1\n",
        "loose/values.yaml": "replicas: 3\n",
    }
    # shared/ still holds a manifest nobody references, so it is an app of its own
    assert apps_of(tree) == [("cluster", "cluster", "kustomize"), ("loose", "loose", "plain"),
                             ("loose-nested", "loose/nested", "plain"),
                             ("shared", "shared", "plain")]
    del tree["shared/other.yaml"]
    assert ("shared", "shared", "plain") not in apps_of(tree)


def test_root_level_kustomization_is_the_one_app() -> None:
    tree = {"kustomization.yaml": "resources: [deploy.yaml, sub]\n",
            "deploy.yaml": DEPLOYMENT.format(name="x"),
            "sub/kustomization.yaml": "resources: [cm.yaml]\n",
            "sub/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n",
            "other/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"}
    assert apps_of(tree) == [("root", ".", "kustomize")]


def test_hidden_policies_and_config_are_skipped() -> None:
    manifest = DEPLOYMENT.format(name="x")
    tree = {".github/k8s/deploy.yaml": manifest, ".gitops-bot.yaml": manifest,
            "policies/deploy.yaml": manifest, "a/.hidden/deploy.yaml": manifest,
            "apps/web/deploy.yaml": manifest}
    assert apps_of(tree) == [("apps-web", "apps/web", "plain")]
    config = discover_config(tree, reader(tree), policies_dir="rules")
    assert [a.path for a in config.apps] == ["apps/web", "policies"]


def test_chart_inside_chart_is_not_an_app_but_sibling_charts_are() -> None:
    chart = "apiVersion: v2\nname: c\nversion: 1.0.0\n"
    tree = {"charts/a/Chart.yaml": chart, "charts/a/charts/sub/Chart.yaml": chart,
            "charts/a/charts/sub/templates/x.yaml": "apiVersion: v1\nkind: ConfigMap\n",
            "charts/b/Chart.yaml": chart, "charts/b/templates/x.yaml": "apiVersion: v1\nkind: X\n"}
    assert apps_of(tree) == [("charts-a", "charts/a", "helm"), ("charts-b", "charts/b", "helm")]


def test_names_are_unique_and_valid() -> None:
    assert app_name("apps/web", set()) == "apps-web"
    assert app_name("apps/web", {"apps-web"}) == "apps-web-2"
    assert app_name("apps/web", {"apps-web", "apps-web-2"}) == "apps-web-3"
    assert app_name(".", set()) == "root"
    assert app_name("_x/my app!", set()) == "x-my-app"
    assert len(app_name("a/" * 60, set())) <= 63
    tree = {"apps/web/d.yaml": DEPLOYMENT.format(name="a"),
            "apps-web/d.yaml": DEPLOYMENT.format(name="b")}
    assert [a.name for a in discover_config(tree, reader(tree)).apps] == ["apps-web",
                                                                          "apps-web-2"]


def test_manifest_sniffing_reads_only_a_prefix() -> None:
    assert looks_like_manifest(b"# c\n---\napiVersion: v1\nkind: ConfigMap\n")
    assert looks_like_manifest(b"a: 1\n---\nkind: Secret\napiVersion: 'v1'\n")
    assert not looks_like_manifest(b"apiVersion: v1\n---\nkind: ConfigMap\n")
    assert not looks_like_manifest(b"  apiVersion: v1\n  kind: X\n")
    assert not looks_like_manifest(None) and not looks_like_manifest(b"")
    assert not looks_like_manifest(b"x: " + b"y" * 5000 + b"\napiVersion: v1\nkind: X\n")
