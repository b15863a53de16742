"""Target inputs (what a render reads) and the targets a change affects."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tests.repo.config_trees import REALISTIC, SAMPLE_CONFIG, load_dir, reader

import bot.repo.targets
from bot.repo.kustomize_refs import RepoIndex
from bot.model import Target
from bot.repo.repo_config import parse_repo_config
from bot.repo.targets import affected_targets, expand_targets, is_input, target_inputs

FLUX = Path(__file__).parents[1] / "fixtures/gitops-repos/fluxcd--flux2-kustomize-helm-example"


def realistic() -> tuple[list[Target], dict[Target, frozenset[str]]]:
    config = parse_repo_config(SAMPLE_CONFIG)
    targets = expand_targets(config, REALISTIC, reader(REALISTIC))
    return targets, {t: target_inputs(t, REALISTIC, reader(REALISTIC)) for t in targets}


def ids(targets: list[Target]) -> list[str]:
    return [t.id for t in targets]


def kfiles(*dirs: str) -> set[str]:
    """The kustomization file names of each folder (a build reads only that of its folder)."""
    return {
        f"{d}/{n}"
        for d in dirs
        for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")
    }


def test_kustomize_overlay_inputs_reach_base_component_patches_and_generators() -> None:
    targets, inputs = realistic()
    staging = inputs[targets[2]]
    assert targets[2].id == "api/staging"
    assert staging == kfiles(
        "apps/api/overlays/staging", "apps/api/base", "apps/api/components/monitoring"
    ) | {
        "apps/api/overlays/staging/replicas.yaml",
        "apps/api/overlays/staging/config/settings.ini",
        "apps/api/overlays/staging/config/api.env",
        "apps/api/base/deployment.yaml",
        "apps/api/base/service.yaml",
        "apps/api/components/monitoring/servicemonitor.yaml",
    }
    # bases:, patchesStrategicMerge files; inline patches and remote resources are no inputs
    assert inputs[targets[3]] == kfiles("apps/api/overlays/production", "apps/api/base") | {
        "apps/api/overlays/production/replicas.yaml",
        "apps/api/base/deployment.yaml",
        "apps/api/base/service.yaml",
    }


def test_plain_and_helm_inputs() -> None:
    targets, inputs = realistic()
    assert inputs[targets[0]] == {"apps/web/"}
    chart = {
        "charts/shop/" + p
        for p in (
            "templates/",
            "charts/",
            "crds/",
            "Chart.yaml",
            "Chart.lock",
            "requirements.yaml",
            "requirements.lock",
            "values.yaml",
            "values.schema.json",
            ".helmignore",
        )
    }
    # the production values file lies in the chart folder, but helm reads it only with -f
    assert inputs[targets[4]] == chart | {"charts/shop/values-staging.yaml"}
    assert inputs[targets[5]] == chart | {"charts/shop/values-production.yaml"}


def test_helm_chart_extra_files_count_but_other_values_files_do_not() -> None:
    tree = {
        "c/Chart.yaml": "",
        "c/files/app.conf": "",
        "c/values/prod.yaml": "",
        "c/values-dev.yml": "",
        "c/README.md": "",
        "c/templates/a/b.yaml": "",
    }
    got = target_inputs(Target("c", "dev", "helm", "c", ("c/values-dev.yml",)), tree, reader(tree))
    assert {"c/files/app.conf", "c/README.md", "c/values-dev.yml", "c/templates/"} <= got
    assert "c/values/prod.yaml" not in got and not any(p.startswith("c/templates/a") for p in got)


def test_helm_inputs_follow_local_file_dependencies_and_values_outside_chart() -> None:
    tree = {
        "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n"
        "  - {name: lib, version: 1.0.0, repository: 'file://../lib'}\n"
        "  - {name: redis, version: 1.0.0, repository: https://charts.example.com}\n",
        "charts/lib/Chart.yaml": "apiVersion: v2\nname: lib\ntype: library\nversion: 1.0.0\n"
        "dependencies: [{name: app, repository: 'file://../app'}]\n",
        "envs/prod.yaml": "replicas: 3\n",
    }
    target = Target("app", "prod", "helm", "charts/app", ("envs/prod.yaml",), release="app")
    got = target_inputs(target, tree, reader(tree))
    assert {
        "charts/app/Chart.yaml",
        "charts/app/templates/",
        "charts/lib/",
        "envs/prod.yaml",
    } <= got
    assert not any(p.startswith("charts/redis") or p == "charts/" for p in got)


def test_kustomize_walk_resolves_every_reference_kind_and_survives_cycles() -> None:
    tree = {
        "k/kustomization.yaml": """\
resources: [../a, ../missing, ../../outside, /abs, 'github.com/x/y//z?ref=v1']
crds: [crds/crd.yaml]
openapi: {path: schema.json}
replacements: [{path: repl.yaml}, {source: {kind: X}, targets: []}]
patchesJson6902: [{path: json.yaml, target: {kind: X}}]
secretGenerator: [{name: s, env: s.env, files: [tls.crt]}]
configurations: [conf.yaml]
transformers: [labels.yaml]
""",
        "a/kustomization.yaml": "resources: [../k]\n",  # a cycle back to k
        "k/crds/crd.yaml": "",
        "k/schema.json": "",
        "k/repl.yaml": "",
        "k/json.yaml": "",
        "k/s.env": "",
        "k/tls.crt": "",
        "k/conf.yaml": "",
        "k/labels.yaml": "",
    }
    target = Target("k", "default", "kustomize", "k")
    assert target_inputs(target, tree, reader(tree)) == kfiles("k", "a") | {
        "missing",
        "missing/",
        "k/crds/crd.yaml",
        "k/schema.json",
        "k/repl.yaml",
        "k/json.yaml",
        "k/s.env",
        "k/tls.crt",
        "k/conf.yaml",
        "k/labels.yaml",
    }


def test_unreadable_kustomization_makes_every_file_an_input() -> None:
    """Its references cannot be known here, so every change counts (fails closed); the
    renderer says what is wrong with the file."""
    tree = {"k/kustomization.yaml": "resources: [\n"}
    assert target_inputs(Target("k", "d", "kustomize", "k"), tree, reader(tree)) == {"k/", ""}


@pytest.mark.parametrize(
    "changed,expected",
    [
        (["apps/api/base/deployment.yaml"], ["api/staging", "api/production"]),
        (["apps/api/components/monitoring/servicemonitor.yaml"], ["api/staging"]),
        (["apps/api/overlays/staging/config/api.env"], ["api/staging"]),
        (["charts/shop/values-production.yaml"], ["shop/production"]),
        (["charts/shop/templates/deployment.yaml"], ["shop/staging", "shop/production"]),
        (["charts/shop/values.yaml"], ["shop/staging", "shop/production"]),
        (["apps/api/base/removed.yaml"], []),  # a file no kustomization names
        (["apps/api/base/kustomization.yml"], ["api/staging", "api/production"]),  # a 2nd one
        (["charts/shop/charts/redis/templates/sts.yaml"], ["shop/staging", "shop/production"]),
        (["README.md"], []),
        ([".gitops-bot.yaml", "policies/deny_latest.rego", ".github/workflows/ci.yaml"], []),
        (["apps/web/removed-configmap.yaml"], ["web/staging", "web/production"]),  # deleted file
        (["apps/webhooks/deploy.yaml"], []),  # a sibling folder with a common prefix
        (
            ["charts/shop/values-production.yaml", "apps/web/deployment.yaml"],
            ["web/staging", "web/production", "shop/production"],
        ),  # input order, not change order
    ],
)
def test_affected_targets(changed: list[str], expected: list[str]) -> None:
    targets, inputs = realistic()
    assert ids(affected_targets(targets, inputs, changed)) == expected


def test_a_prebuilt_index_is_a_files_collection() -> None:
    index = RepoIndex(REALISTIC)
    assert "apps/web/deployment.yaml" in index and len(index) == len(REALISTIC)
    assert RepoIndex.of(index) is index
    assert RepoIndex.of(frozenset(REALISTIC)) is RepoIndex.of(frozenset(REALISTIC))
    targets, inputs = realistic()
    assert {t: target_inputs(t, index, reader(REALISTIC)) for t in targets} == inputs
    assert expand_targets(parse_repo_config(SAMPLE_CONFIG), index, reader(REALISTIC)) == targets


def test_target_without_inputs_counts_by_its_folder() -> None:
    target = Target("web", "default", "plain", "apps/web")
    assert affected_targets([target], {}, ["apps/web/a.yaml"]) == [target]


def test_a_root_kustomization_is_affected_only_by_what_it_reads() -> None:
    tree = {
        "kustomization.yaml": "resources: [deploy.yaml, sub]\n",
        "deploy.yaml": "",
        "sub/kustomization.yaml": "resources: [cm.yaml]\n",
        "sub/cm.yaml": "",
        "sub/unused.yaml": "",
        "other/cm.yaml": "",
        "README.md": "",
    }
    target = Target("root", "default", "kustomize", ".")
    inputs = {target: target_inputs(target, tree, reader(tree))}
    assert inputs[target] == kfiles("sub") | {
        "kustomization.yaml",
        "kustomization.yml",
        "Kustomization",
        "deploy.yaml",
        "sub/cm.yaml",
    }
    for unread in ("other/cm.yaml", "README.md", "sub/unused.yaml", "new/file.yaml"):
        assert affected_targets([target], inputs, [unread]) == [], unread
    for read in ("deploy.yaml", "sub/cm.yaml", "kustomization.yaml", "sub/kustomization.yml"):
        assert affected_targets([target], inputs, [read]) == [target], read


def test_root_inputs_match_everything_but_the_config() -> None:
    assert is_input("apps/x.yaml", {""}) and not is_input(".gitops-bot.yaml", {""})
    assert not is_input("apps/web", {"apps/web/"}) and is_input("a.yaml", {"a.yaml"})


def test_targets_module_is_pure() -> None:
    tree = ast.parse(Path(bot.repo.targets.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"subprocess", "os", "flask", "requests", "pathlib", "shutil", "io"}


def test_flux_example_repository() -> None:
    """The real fluxcd/flux2-kustomize-helm-example: overlays are apps, the base is an input."""
    tree = load_dir(FLUX)
    read = reader(tree)
    from bot.repo.discovery import discover_config

    config = discover_config(tree, read)
    targets = expand_targets(config, tree, read)
    assert [(t.id, t.renderer, t.path) for t in targets] == [
        ("apps/production", "kustomize", "apps/production"),  # apps/base + apps/<env>
        ("apps/staging", "kustomize", "apps/staging"),
        # the Flux Kustomization objects themselves, in clusters/<env>
        ("clusters/production", "plain", "clusters/production"),
        ("clusters/staging", "plain", "clusters/staging"),
        ("clusters-production-flux-system/default", "kustomize", "clusters/production/flux-system"),
        ("clusters-staging-flux-system/default", "kustomize", "clusters/staging/flux-system"),
        ("infrastructure-configs/default", "kustomize", "infrastructure/configs"),
        ("infrastructure-controllers/default", "kustomize", "infrastructure/controllers"),
    ]
    assert "apps-base-podinfo" not in {a.name for a in config.apps}
    inputs = {t: target_inputs(t, tree, read) for t in targets}
    by_id = {t.id: t for t in targets}
    assert inputs[by_id["apps/staging"]] == kfiles("apps/staging", "apps/base/podinfo") | {
        "apps/staging/podinfo-values.yaml",
        "apps/base/podinfo/namespace.yaml",
        "apps/base/podinfo/repository.yaml",
        "apps/base/podinfo/release.yaml",
    }
    assert ids(affected_targets(targets, inputs, ["apps/base/podinfo/release.yaml"])) == [
        "apps/production",
        "apps/staging",
    ]
    assert ids(affected_targets(targets, inputs, ["apps/staging/podinfo-values.yaml"])) == [
        "apps/staging"
    ]
    assert ids(affected_targets(targets, inputs, ["clusters/staging/apps.yaml"])) == [
        "clusters/staging"
    ]
    assert affected_targets(targets, inputs, ["README.md"]) == []


def test_hostile_kustomization_does_not_stall_planning() -> None:
    """A billion-laughs kustomization is read with the YAML budget: planning stays fast and
    the renderer (not the planner) reports the file."""
    import time

    from bot.repo.kustomize_refs import load_kustomization

    bomb = (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
        + "resources: *i\n"
    )
    started = time.monotonic()
    assert load_kustomization("k/kustomization.yaml", lambda p: bomb.encode()) == {}
    assert time.monotonic() - started < 2


def test_a_plain_app_leaves_out_subfolders_of_other_apps_kustomizations_and_charts() -> None:
    tree = {
        "apps/web/d.yaml": "",
        "apps/web/sub/x.yaml": "",
        "apps/web/sub/deep/y.yaml": "",
        "apps/web/api/d.yaml": "",
        "apps/web/api/more/e.yaml": "",
        "apps/web/sub/k/kustomization.yaml": "resources: [a.yaml]\n",
        "apps/web/sub/k/a.yaml": "",
        "apps/web/chart/Chart.yaml": "",
        "apps/web/chart/templates/t.yaml": "",
        "apps/webhooks/d.yaml": "",
    }
    config = parse_repo_config(
        "apps:\n  web: {path: apps/web, renderer: plain}\n"
        "  api: {path: apps/web/api}\n"
        "  hooks: {path: apps/webhooks}\n"
    )
    web, api, hooks = expand_targets(config, tree, reader(tree))
    assert web.exclude == ("apps/web/api",) and api.exclude == () == hooks.exclude
    inputs = {t: target_inputs(t, tree, reader(tree)) for t in (web, api, hooks)}
    assert inputs[web] == {"apps/web/d.yaml", "apps/web/sub/x.yaml", "apps/web/sub/deep/"}
    assert inputs[api] == {"apps/web/api/"}
    assert ids(affected_targets([web, api], inputs, ["apps/web/api/d.yaml"])) == ["api/default"]
    assert ids(affected_targets([web, api], inputs, ["apps/web/sub/k/a.yaml"])) == []
    head = {**tree, "apps/web/new.yaml": ""}  # an added file is among the head's inputs
    assert "apps/web/new.yaml" in target_inputs(web, head, reader(head))
    assert target_inputs(
        Target("i", "install", "plain", "apps/web/d.yaml"), tree, reader(tree)
    ) == {"apps/web/d.yaml"}


def test_a_chart_is_released_in_the_namespace_its_environment_deploys_into() -> None:
    tree = {"charts/web/Chart.yaml": "", "apps/a.yaml": ""}
    config = parse_repo_config(
        "environments:\n  lab: {deploy: {target: kubernetes, context: lab, namespace: apps}}\n"
        "  prod: {}\n"
        "apps:\n  web: {path: charts/web}\n  pinned: {path: charts/web, namespace: web}\n"
        "  plain: {path: apps}\n"
    )
    assert [(t.id, t.namespace) for t in expand_targets(config, tree, reader(tree))] == [
        ("web/lab", "apps"),
        ("web/prod", None),
        ("pinned/lab", "web"),
        ("pinned/prod", "web"),
        ("plain/lab", None),
        ("plain/prod", None),
    ]
