"""Discovery of apps in a repository without `apps:` in `.gitops-bot.yaml`."""

from __future__ import annotations

from tests.repo.config_trees import DEPLOYMENT, REALISTIC, reader

from bot.repo.discovery import app_name, discover_config, looks_like_manifest, with_discovered_apps
from bot.repo.repo_config import Environment, parse_repo_config
from bot.repo.targets import affected_targets, expand_targets, target_inputs

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"
CHART = "apiVersion: v2\nname: c\nversion: 1.0.0\n"
Row = tuple[str, str, str, str, tuple[str, ...]]


def targets_of(tree: dict[str, str]) -> list[Row]:
    """(app, environment, renderer, path, values) of every discovered target."""
    config = discover_config(tree, reader(tree))
    assert config.discovered
    return sorted(
        (t.app, t.environment, t.renderer, t.path, t.values)
        for t in expand_targets(config, tree, reader(tree))
    )


def paths_of(tree: dict[str, str]) -> list[tuple[str, str]]:
    return sorted((t[3], t[1]) for t in targets_of(tree))


def test_realistic_tree_finds_apps_and_environments_as_laid_out() -> None:
    assert targets_of(REALISTIC) == [
        ("apps-api", "production", "kustomize", "apps/api/overlays/production", ()),
        ("apps-api", "staging", "kustomize", "apps/api/overlays/staging", ()),
        ("apps-web", "default", "plain", "apps/web", ()),
        ("charts-shop", "default", "helm", "charts/shop", ()),
        (
            "charts-shop",
            "production",
            "helm",
            "charts/shop",
            ("charts/shop/values-production.yaml",),
        ),
        ("charts-shop", "staging", "helm", "charts/shop", ("charts/shop/values-staging.yaml",)),
    ]  # not: the base, the component, the vendored redis subchart, policies, docs, .github
    config = discover_config(REALISTIC, reader(REALISTIC))
    assert config.environment_names == ("default", "production", "staging")


def test_every_environment_folder_layout() -> None:
    base = {
        "web/base/kustomization.yaml": "resources: [cm.yaml]\n",
        "web/base/cm.yaml": CM.format("web"),
    }
    overlay = "resources: [../../base]\n"
    for parent in ("overlays", "environments", "envs", "clusters"):
        tree = {
            **base,
            f"web/{parent}/prod/kustomization.yaml": overlay,
            f"web/{parent}/dev/kustomization.yaml": overlay,
        }
        assert targets_of(tree) == [
            ("web", "dev", "kustomize", f"web/{parent}/dev", ()),
            ("web", "prod", "kustomize", f"web/{parent}/prod", ()),
        ], parent
    # `<app>/base` beside `<app>/<env>` folders that build on it
    tree = {
        **base,
        "web/prod/kustomization.yaml": "resources: [../base]\n",
        "web/dev/kustomization.yaml": "resources: [../base/]\n",
    }
    assert paths_of(tree) == [("web/dev", "dev"), ("web/prod", "prod")]


def test_values_files_beside_a_chart_are_environments_and_a_change_touches_only_theirs() -> None:
    tree = {
        "charts/podinfo/Chart.yaml": CHART,
        "charts/podinfo/values.yaml": "a: 1\n",
        "charts/podinfo/values-prod.yaml": "a: 2\n",
        "charts/podinfo/values.qa.yml": "",
        "charts/podinfo/templates/cm.yaml": CM.format("{{ .Release.Name }}"),
    }
    config = discover_config(tree, reader(tree))
    targets = expand_targets(config, tree, reader(tree))
    assert [(t.environment, t.values, t.release) for t in targets] == [
        ("default", (), "podinfo"),
        ("prod", ("charts/podinfo/values-prod.yaml",), "podinfo"),
        ("qa", ("charts/podinfo/values.qa.yml",), "podinfo"),
    ]
    inputs = {t: target_inputs(t, tree, reader(tree)) for t in targets}
    changed = affected_targets(targets, inputs, ["charts/podinfo/values-prod.yaml"])
    assert [t.id for t in changed] == ["charts-podinfo/prod"]  # was: "No apps affected"
    changed = affected_targets(targets, inputs, ["charts/podinfo/values.yaml"])
    assert [t.environment for t in changed] == ["default", "prod", "qa"]


def test_parts_of_apps_are_not_apps() -> None:
    tree = {
        "app/kustomization.yaml": "resources: [../lib/base]\ncomponents: [../lib/comp]\n"
        "patches: [{path: ../lib/patches/p.yaml}]\n",
        "lib/base/kustomization.yaml": "resources: [cm.yaml]\n",
        "lib/base/cm.yaml": CM.format("a"),
        "lib/base/extra/kustomization.yaml": "resources: [../cm.yaml]\n",  # inside a base
        "lib/comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\n"
        "kind: Component\nresources: [x.yaml]\n",
        "lib/comp/x.yaml": CM.format("x"),
        "lib/patches/p.yaml": CM.format("a"),
        "lib/patches/kustomization.yaml": "patches: [{path: p.yaml}]\n",  # partial
        "unused-component/kustomization.yaml": "kind: Component\nresources: [y.yaml]\n",
        "unused-component/y.yaml": CM.format("y"),
        "tweaks/kustomization.yaml": "patches: [{path: p.yaml}]\n",  # renders nothing alone
        "tweaks/p.yaml": CM.format("p"),
    }
    assert paths_of(tree) == [("app", "default")]


def test_a_kustomization_used_as_app_and_as_base_is_kept_unless_composed_above() -> None:
    tree = {
        "manifests/base/kustomization.yaml": "resources: [cm.yaml]\n",
        "manifests/base/cm.yaml": CM.format("a"),
        "manifests/crds/kustomization.yaml": "resources: [crd.yaml]\n",
        "manifests/crds/crd.yaml": CM.format("crd"),
        "manifests/cluster-install/kustomization.yaml": "resources: [../crds, ../base]\n",
        "manifests/cluster-install-ha/kustomization.yaml": "resources: [../cluster-install]\n",
        "manifests/dev-tilt/kustomization.yaml": "resources: [../cluster-install]\n",
        "stack/kustomization.yaml": "resources: [base, dev]\n",  # composes its children
        "stack/base/kustomization.yaml": "resources: [cm.yaml]\n",
        "stack/base/cm.yaml": CM.format("b"),
        "stack/dev/kustomization.yaml": "resources: [../base]\n",
    }
    # before: cluster-install was dropped because cluster-install-ha uses it
    assert paths_of(tree) == [
        ("manifests/cluster-install", "cluster-install"),
        ("manifests/cluster-install-ha", "cluster-install-ha"),
        ("stack", "default"),
    ]  # not: crds, bases, dev-tilt, stack/dev


def test_discovered_charts_are_released_under_their_folder_name() -> None:
    tree = {
        "charts/podinfo/Chart.yaml": CHART,
        "charts/podinfo/templates/x.yaml": "",
        "Chart.yaml": CHART,
        "templates/x.yaml": "",
    }
    config = discover_config(tree, reader(tree))
    assert [
        (t.path, t.release, t.namespace) for t in expand_targets(config, tree, reader(tree))
    ] == [(".", "c", None)]  # the root chart renders all
    del tree["Chart.yaml"]
    config = discover_config(tree, reader(tree))
    (target,) = expand_targets(config, tree, reader(tree))
    assert (target.app, target.release, target.namespace) == ("charts-podinfo", "podinfo", None)


def test_plain_folders_nested_grouped_and_alternative_files() -> None:
    tree = {
        "loose/one.yaml": CM.format("one"),
        "loose/nested/two.yml": CM.format("two"),
        "loose/values.yaml": "replicas: 3\n",
        # one app of parts: common declares the Namespace the others live in
        "deploy/webapp/common/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n"
        "  name: webapp\n",
        "deploy/webapp/backend/d.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n"
        "  name: backend\n  namespace: webapp\n",
        "deploy/webapp/frontend/d.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n"
        "  name: frontend\n  namespace: webapp\n",
        # separate apps: each its own namespace
        "apps/a/d.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: a\n",
        "apps/b/d.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: b\n  namespace: b\n",
        # alternatives: the same objects in two files
        "bundle/install.yaml": CM.format("argocd-cm") + "---\n" + CM.format("x"),
        "bundle/core-install.yaml": CM.format("argocd-cm"),
    }
    assert paths_of(tree) == [
        ("apps/a", "default"),
        ("apps/b", "default"),
        ("bundle/core-install.yaml", "core-install"),
        ("bundle/install.yaml", "install"),
        ("deploy/webapp", "default"),
        ("loose", "default"),
        ("loose/nested", "default"),
    ]
    config = discover_config(tree, reader(tree))
    loose = next(t for t in expand_targets(config, tree, reader(tree)) if t.path == "loose")
    assert loose.exclude == ("loose/nested",)  # rendered once, by its own app


def test_a_broken_object_is_a_target_wherever_it_lies() -> None:
    tree = {
        "docs/broken.yaml": "kind: Deployment\nmetadata: {name: x}\n",
        "k/kustomization.yaml": "resources: [cm.yaml]\n",
        "k/cm.yaml": CM.format("a"),
        "k/stray.yaml": "apiVersion: v1\nkind: ''\n",
        "k/read.yaml": "apiVersion: v1\n",  # named by the kustomization: kustomize fails
        "notes/settings.yaml": "mode: fast\n",
        "charts/c/Chart.yaml": CHART,
    }
    tree["k/kustomization.yaml"] = "resources: [cm.yaml, read.yaml]\n"
    assert paths_of(tree) == [
        ("charts/c", "default"),
        ("docs", "default"),
        ("k", "default"),
        ("k/stray.yaml", "default"),
    ]


def test_developer_tool_folders_are_not_deployed() -> None:
    tree = {
        "dev-tilt/d.yaml": CM.format("a"),
        "skaffold/d.yaml": CM.format("b"),
        "app/d.yaml": CM.format("c"),
    }
    assert paths_of(tree) == [("app", "default")]


def test_configured_environments_keep_apps_found_alone_and_gain_layout_ones() -> None:
    tree = {
        "web/d.yaml": CM.format("web"),
        "api/base/kustomization.yaml": "resources: [cm.yaml]\n",
        "api/base/cm.yaml": CM.format("api"),
        "api/overlays/production/kustomization.yaml": "resources: [../../base]\n",
        "api/overlays/qa/kustomization.yaml": "resources: [../../base]\n",
    }
    config = parse_repo_config("environments:\n  staging: {}\n  production: {}\n")
    merged = with_discovered_apps(config, discover_config(tree, reader(tree)))
    assert merged.environment_names == ("staging", "production", "qa")
    assert sorted(t.id for t in expand_targets(merged, tree, reader(tree))) == [
        "api/production",
        "api/qa",
        "web/production",
        "web/staging",
    ]


def test_hidden_policies_and_config_are_skipped() -> None:
    manifest = DEPLOYMENT.format(name="x")
    tree = {
        ".github/k8s/deploy.yaml": manifest,
        ".gitops-bot.yaml": manifest,
        "policies/deploy.yaml": manifest,
        "a/.hidden/deploy.yaml": manifest,
        "apps/web/deploy.yaml": manifest,
    }
    assert paths_of(tree) == [("apps/web", "default")]
    config = discover_config(tree, reader(tree), policies_dir="rules")
    assert [a.path for a in config.apps] == ["apps/web", "policies"]
    assert discover_config({}, reader({})).environments == (Environment("default"),)


def test_chart_inside_chart_is_not_an_app_but_sibling_charts_are() -> None:
    tree = {
        "charts/a/Chart.yaml": CHART,
        "charts/a/charts/sub/Chart.yaml": CHART,
        "charts/a/charts/sub/templates/x.yaml": "apiVersion: v1\nkind: ConfigMap\n",
        "charts/b/Chart.yaml": CHART,
        "charts/b/templates/x.yaml": "apiVersion: v1\nkind: X\n",
    }
    assert paths_of(tree) == [("charts/a", "default"), ("charts/b", "default")]
    # a chart in a chart's folder but not in its charts/ is a chart of its own (helm would
    # not render it as part of the outer one)
    tree |= {"charts/a/yelb/Chart.yaml": CHART, "charts/a/yelb/templates/x.yaml": ""}
    assert ("charts/a/yelb", "default") in paths_of(tree)


def test_names_are_unique_and_valid() -> None:
    assert app_name("apps/web", set()) == "apps-web"
    assert app_name("apps/web", {"apps-web"}) == "apps-web-2"
    assert app_name("apps/web", {"apps-web", "apps-web-2"}) == "apps-web-3"
    assert app_name(".", set()) == "root"
    assert app_name("_x/my app!", set()) == "x-my-app"
    assert len(app_name("a/" * 60, set())) <= 63
    tree = {
        "apps/web/d.yaml": DEPLOYMENT.format(name="a"),
        "apps-web/d.yaml": DEPLOYMENT.format(name="b"),
    }
    assert [a.name for a in discover_config(tree, reader(tree)).apps] == ["apps-web", "apps-web-2"]


def test_manifest_sniffing_reads_only_a_prefix() -> None:
    assert looks_like_manifest(b"# c\n---\napiVersion: v1\nkind: ConfigMap\n")
    assert looks_like_manifest(b"a: 1\n---\nkind: Secret\napiVersion: 'v1'\n")
    assert not looks_like_manifest(b"apiVersion: v1\n---\nkind: ConfigMap\n")
    assert not looks_like_manifest(b"  apiVersion: v1\n  kind: X\n")
    assert not looks_like_manifest(None) and not looks_like_manifest(b"")
    assert not looks_like_manifest(b"x: " + b"y" * 5000 + b"\napiVersion: v1\nkind: X\n")
