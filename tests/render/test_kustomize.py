"""The kustomize renderer with the real kubectl: the Flux example, and every refusal."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from bot import proc
from bot.errors import ToolError
from bot.model import Target
from bot.render import Budgets, render_target
from bot.render.kustomize import kustomize_argv
from bot.tools import Tools
from tests.conftest import FIXTURES, write_tree
from tests.render.conftest import Canary, Recorded

FLUX = FIXTURES / "gitops-repos" / "fluxcd--flux2-kustomize-helm-example"
FORBIDDEN = (
    "--load-restrictor",
    "--enable-helm",
    "--enable-alpha-plugins",
    "--enable-exec",
    "--network",
    "--mount",
    "--as-current-user",
    "--helm-command",
)
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"


def kust(path: str) -> Target:
    return Target(app="app", environment="env", renderer="kustomize", path=path)


PODINFO = [
    ("Namespace", "podinfo", "apps/base/podinfo/namespace.yaml"),
    ("HelmRelease", "podinfo", "apps/base/podinfo/release.yaml"),
    ("HelmRepository", "podinfo", "apps/base/podinfo/repository.yaml"),
]
EXPECTED = {
    "apps/staging": PODINFO,
    "apps/production": PODINFO,
    "infrastructure/configs": [
        ("ClusterIssuer", "letsencrypt", "infrastructure/configs/cluster-issuers.yaml"),
        ("Gateway", "envoy", "infrastructure/configs/gateway.yaml"),
        ("GatewayClass", "envoy", "infrastructure/configs/gateway.yaml"),
    ],
    "infrastructure/controllers": [
        ("Namespace", "cert-manager", "infrastructure/controllers/cert-manager.yaml"),
        ("Namespace", "envoy-gateway-system", "infrastructure/controllers/envoy-gateway.yaml"),
        ("HelmRelease", "cert-manager", "infrastructure/controllers/cert-manager.yaml"),
        ("HelmRelease", "envoy-gateway", "infrastructure/controllers/envoy-gateway.yaml"),
        ("OCIRepository", "cert-manager", "infrastructure/controllers/cert-manager.yaml"),
        ("OCIRepository", "gateway-helm", "infrastructure/controllers/envoy-gateway.yaml"),
    ],
    "clusters/staging/flux-system": [],
    "clusters/production/flux-system": [],
}


@pytest.fixture(scope="module")
def flux(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("flux") / "repo"
    shutil.copytree(FLUX, repo)
    return repo


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_flux_example_renders_exact_objects_mapped_to_their_files(
    flux: Path, tools: Tools, path: str
) -> None:
    result = render_target(flux, kust(path), tools)
    assert result.findings == ()
    assert [(m.kind, m.key.name, m.file) for m in result.manifests] == EXPECTED[path]
    for m in result.manifests:
        assert "config.kubernetes.io/origin" not in repr(m.body)


@pytest.mark.parametrize("path", ["apps/staging", "infrastructure/controllers"])
def test_origin_wrapper_output_equals_a_plain_kustomize_build(
    flux: Path, tools: Tools, path: str
) -> None:
    direct = proc.run(
        kustomize_argv(tools.require("kubectl"), flux / path),
        env=proc.clean_env(flux),
        no_network=True,
    )
    bodies = [d for d in yaml.safe_load_all(direct.stdout) if d]
    assert [dict(m.body) for m in render_target(flux, kust(path), tools).manifests] == bodies


def test_flux_example_objects_have_the_line_their_document_starts_at(
    flux: Path, tools: Tools
) -> None:
    """kustomize names the file; the line is where the object's document starts in it, so a
    finding on a kustomize app can be annotated on the changed line's file."""
    result = render_target(flux, kust("infrastructure/controllers"), tools)
    for m in result.manifests:
        assert m.line is not None, m.key
        text = (flux / str(m.file)).read_text().splitlines()
        document = "\n".join(text[m.line - 1 :]).split("\n---", 1)[0]
        assert yaml.safe_load(document)["metadata"]["name"] == m.key.name, m.location


def test_a_prefixed_object_in_a_file_of_many_gets_its_own_documents_line(
    tmp_path: Path, tools: Tools
) -> None:
    write_tree(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [all.yaml]\n",
            "base/all.yaml": "# header\n---\n"
            + CM.format("mysql")
            + "---\n"
            + CM.format("mysql-pass")
            + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: mysql-pass\n",
            "overlay/kustomization.yaml": "namePrefix: demo-\nresources: [../base]\n",
        },
    )
    result = render_target(tmp_path, kust("overlay"), tools)
    assert sorted((m.kind, m.key.name, m.location) for m in result.manifests) == [
        ("ConfigMap", "demo-mysql", "base/all.yaml:3"),
        ("ConfigMap", "demo-mysql-pass", "base/all.yaml:8"),
        ("Secret", "demo-mysql-pass", "base/all.yaml:13"),
    ]


def test_overlay_patch_is_applied(flux: Path, tools: Tools) -> None:
    staging = render_target(flux, kust("apps/staging"), tools).manifests
    production = render_target(flux, kust("apps/production"), tools).manifests
    release = {m.kind: m.body for m in staging}["HelmRelease"]
    assert release != {m.kind: m.body for m in production}["HelmRelease"]


def test_argv_never_carries_forbidden_flags(
    flux: Path, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", "/root/.kube/config")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secretsecret")
    for path in ("apps/staging", "infrastructure/controllers"):
        assert render_target(flux, kust(path), recorded.tools).ok
    argv = kustomize_argv("kubectl", "dir")
    calls = recorded.calls()
    assert len(calls) == 2 and argv == ["kubectl", "kustomize", "dir"]
    for call in [argv, *calls]:
        assert call[1] == "kustomize"
        assert not [a for a in call if a.split("=")[0] in FORBIDDEN], call
    for env in recorded.environments():
        assert "KUBECONFIG" not in env and "ghs_" not in env and "GITHUB_TOKEN" not in env


@pytest.mark.parametrize(
    "remote",
    [
        "{url}/base.yaml",
        "{url}/org/repo//deploy?ref=v1",
        "github.com/org/repo/deploy?ref=v1",
        "git@github.com:org/repo.git",
        "https://github.com/org/repo",
        "git::{url}/repo.git",
        "ssh://git@127.0.0.1/org/repo.git",
    ],
)
def test_remote_bases_are_refused_without_any_connection(
    tmp_path: Path, tools: Tools, canary: Canary, remote: str
) -> None:
    ref = remote.format(url=canary.url)
    write_tree(
        tmp_path,
        {
            "app/kustomization.yaml": f"resources:\n- cm.yaml\n- {ref}\n",
            "app/cm.yaml": CM.format("a"),
        },
    )
    result = render_target(tmp_path, kust("app"), tools)
    assert not result.ok and result.manifests == ()
    (finding,) = result.findings
    assert finding.file == "app/kustomization.yaml" and finding.check == "sandbox"
    assert "remote reference" in finding.message and ref in finding.message
    assert canary.settled_hits() == []


def test_remote_in_nested_base_and_patch_file_url_are_refused(
    tmp_path: Path, tools: Tools, canary: Canary
) -> None:
    write_tree(
        tmp_path,
        {
            "overlay/kustomization.yaml": f"resources: [../base]\npatches:\n"
            f"- path: {canary.url}/patch.yaml\n",
            "base/kustomization.yaml": f"resources:\n- {canary.url}/x.yaml\n",
        },
    )
    result = render_target(tmp_path, kust("overlay"), tools)
    assert sorted(f.file or "" for f in result.findings) == [
        "base/kustomization.yaml",
        "overlay/kustomization.yaml",
    ]
    assert canary.settled_hits() == []


def test_even_unchecked_kubectl_cannot_reach_the_network(
    tmp_path: Path, tools: Tools, canary: Canary
) -> None:
    # Defence in depth: bypass the walk and run kustomize as render does; the canary stays quiet.
    write_tree(tmp_path, {"app/kustomization.yaml": f"resources:\n- {canary.url}/x.yaml\n"})
    with pytest.raises(ToolError):
        proc.run(
            kustomize_argv(tools.require("kubectl"), tmp_path / "app"),
            env=proc.clean_env(tmp_path),
            no_network=True,
            timeout=20,
        )
    assert canary.settled_hits() == []


def test_helm_charts_and_plugins_are_refused(tmp_path: Path, tools: Tools) -> None:
    write_tree(
        tmp_path,
        {
            "a/kustomization.yaml": "helmCharts:\n- name: podinfo\n  repo: https://x.example\n",
            "b/kustomization.yaml": "generators: [gen.yaml]\n",
            "b/gen.yaml": "apiVersion: builtin\nkind: HelmChartInflationGenerator\n"
            "metadata: {name: x}\nchartName: podinfo\n",
            "c/kustomization.yaml": "transformers:\n- |\n  apiVersion: example.com/v1\n"
            "  kind: Fn\n  metadata:\n    name: x\n    annotations:\n"
            "      config.kubernetes.io/function: |\n"
            "        exec: {path: ./run.sh}\n",
            "d/kustomization.yaml": "generators: [plugin.yaml]\n",
            "d/plugin.yaml": "apiVersion: someteam.example.com/v1\nkind: ChartInflator\n"
            "metadata: {name: x}\n",
        },
    )
    for app, text in (
        ("a", "helmCharts is not allowed"),
        ("b", "HelmChartInflationGenerator is not allowed"),
        ("c", "plugins and KRM functions are disabled"),
        ("d", "plugins and KRM functions are disabled"),
    ):
        result = render_target(tmp_path, kust(app), tools)
        assert not result.ok and result.manifests == ()
        assert [f.check for f in result.findings] == ["sandbox"]
        assert text in result.findings[0].message
        assert result.findings[0].file.startswith(f"{app}/")  # type: ignore[union-attr]


def test_builtin_transformer_file_is_allowed(tmp_path: Path, tools: Tools) -> None:
    write_tree(
        tmp_path,
        {
            "app/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [labels.yaml]\n",
            "app/cm.yaml": CM.format("a"),
            "app/labels.yaml": "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n"
            "  name: l\nlabels: {team: x}\nfieldSpecs:\n"
            "- path: metadata/labels\n  create: true\n",
        },
    )
    result = render_target(tmp_path, kust("app"), tools)
    assert result.ok, result.findings
    assert result.manifests[0].body["metadata"]["labels"] == {"team": "x"}


def test_kustomization_cycle_is_a_finding_within_the_timeout(tmp_path: Path, tools: Tools) -> None:
    write_tree(
        tmp_path,
        {
            "a/kustomization.yaml": "resources: [../b]\n",
            "b/kustomization.yaml": "resources: [../c]\n",
            "c/kustomization.yaml": "resources: [../a]\n",
        },
    )
    started = time.monotonic()
    result = render_target(tmp_path, kust("a"), tools, Budgets(render_timeout=5))
    assert time.monotonic() - started < 5
    (finding,) = result.findings
    assert "kustomization cycle: a -> b -> c -> a" in finding.message


def test_escaping_paths_are_refused_without_their_content(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, {"secret.env": "TOKEN=SHOULD-NEVER-APPEAR\n"})
    repo = tmp_path / "repo"
    escapes = {
        "gen": "configMapGenerator:\n- name: x\n  files: [../../secret.env]\n",
        "env": "configMapGenerator:\n- name: x\n  envs: [../../secret.env]\n",
        "abs": f"resources: [{tmp_path / 'secret.env'}]\n",
        "dir": "resources: [../..]\n",
        "patch": "patches:\n- path: ../../secret.env\n",
    }
    write_tree(repo, {f"{k}/kustomization.yaml": v for k, v in escapes.items()})
    os.symlink(tmp_path / "secret.env", repo / "gen" / "link.env")
    write_tree(
        repo, {"sym/kustomization.yaml": "configMapGenerator:\n- name: x\n  files: [link.env]\n"}
    )
    os.symlink("../../secret.env", repo / "sym" / "link.env")
    for app in [*escapes, "sym"]:
        result = render_target(repo, kust(app), tools)
        assert not result.ok and result.manifests == ()
        assert any("outside the repository" in f.message for f in result.findings), app
        assert "SHOULD-NEVER-APPEAR" not in repr(result)


def test_missing_resource_and_generated_objects_map_to_kustomization(
    tmp_path: Path, tools: Tools
) -> None:
    write_tree(tmp_path, {"app/kustomization.yaml": "resources: [nothere.yaml]\n"})
    result = render_target(tmp_path, kust("app"), tools)
    assert "does not exist in the repository" in result.findings[0].message
    write_tree(
        tmp_path,
        {
            "app/kustomization.yaml": "namespace: shop\nresources: [cm.yaml]\n"
            "configMapGenerator:\n- name: gen\n"
            "  literals: [a=b]\n",
            "app/cm.yaml": CM.format("plain"),
        },
    )
    result = render_target(tmp_path, kust("app"), tools)
    assert sorted((m.key.name[:4], m.key.namespace, m.file) for m in result.manifests) == [
        ("gen-", "shop", "app/kustomization.yaml"),
        ("plai", "shop", "app/cm.yaml"),
    ]


def test_kustomize_failure_is_a_finding_with_stderr_and_no_private_paths(
    tmp_path: Path, tools: Tools
) -> None:
    write_tree(
        tmp_path,
        {
            "app/kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: p.yaml\n",
            "app/cm.yaml": CM.format("a"),
            "app/p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: missing}\n",
        },
    )
    result = render_target(tmp_path, kust("app"), tools)
    (finding,) = result.findings
    assert finding.check == "render" and finding.file == "app"
    assert "kustomize failed" in finding.message and "missing" in finding.message
    assert str(tmp_path) not in finding.message and "gitops-bot-render" not in finding.message


def test_output_budget_and_timeout(tmp_path: Path, tools: Tools) -> None:
    write_tree(
        tmp_path,
        {
            "app/kustomization.yaml": "resources: [cm.yaml]\n",
            "app/cm.yaml": CM.format("a") + "data:\n  k: " + "v" * 5000 + "\n",
        },
    )
    result = render_target(tmp_path, kust("app"), tools, Budgets(max_render_bytes=1000))
    assert [f.message for f in result.findings] == ["render output exceeded 1000 bytes"]
    many = "---\n".join(CM.format(f"c{i}") for i in range(4000))
    write_tree(tmp_path, {"app/cm.yaml": many})
    started = time.monotonic()
    result = render_target(tmp_path, kust("app"), tools, Budgets(render_timeout=0.3))
    assert [f.message for f in result.findings] == ["render timed out after 0.3s"]
    assert time.monotonic() - started < 3


def test_component_root_and_users_own_origin_annotations(tmp_path: Path, tools: Tools) -> None:
    write_tree(
        tmp_path,
        {
            "comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\n"
            "kind: Component\nresources: [cm.yaml]\n",
            "comp/cm.yaml": CM.format("a"),
            "own/kustomization.yaml": "buildMetadata: [originAnnotations]\nresources: [sub/cm.yaml]\n",
            "own/sub/cm.yaml": CM.format("b"),
        },
    )
    comp = render_target(tmp_path, kust("comp"), tools)
    assert comp.ok and [(m.key.name, m.file) for m in comp.manifests] == [("a", "comp")]
    own = render_target(tmp_path, kust("own"), tools)
    (obj,) = own.manifests
    assert obj.file == "own/sub/cm.yaml"
    assert obj.body["metadata"]["annotations"] == {
        "config.kubernetes.io/origin": "path: sub/cm.yaml\n"
    }


def test_secret_generator_literals_are_not_echoed_in_errors(tmp_path: Path, tools: Tools) -> None:
    """kustomize quotes a malformed literal ("invalid literal source password:..."): the
    value must not reach the finding."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "kustomization.yaml").write_text(
        "secretGenerator:\n- name: s\n  literals:\n  - password:KustomizeLiteral42\n"
    )
    result = render_target(tmp_path, kust("app"), tools)
    text = "\n".join(f.message for f in result.findings)
    assert "invalid literal source ***" in text
    assert "KustomizeLiteral42" not in text


def test_references_into_git_are_refused(tmp_path: Path, tools: Tools) -> None:
    """A kustomization at the root of a working tree reaching `.git/config` through a linked
    folder (the name alone never says `.git`) is refused before kustomize runs."""
    write_tree(
        tmp_path,
        {
            "kustomization.yaml": "configMapGenerator:\n- name: x\n  files: [meta/config]\n",
            ".git/config": "[http]\n\textraheader = AUTHORIZATION: basic X\n",
        },
    )
    os.symlink(".git", tmp_path / "meta")
    result = render_target(tmp_path, kust("."), tools)
    assert not result.ok and result.manifests == ()
    assert [f.message for f in result.findings] == [
        "symlink meta -> .git points into .git; refused",
        "configMapGenerator entry meta/config is inside .git; refused",
    ]
    assert "extraheader" not in repr(result)
