"""The real fluxcd/flux2-kustomize-helm-example objects through the embedded validator and a
review with no configuration (its custom resources validate from the shipped catalogue)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from bot.model import Manifest
from bot.pipeline.review import ReviewOptions, review_worktree
from bot.tools import Tools
from bot.validate import EmbeddedValidator, duplicate_findings
from tests.conftest import FIXTURES

REPO = FIXTURES / "gitops-repos" / "fluxcd--flux2-kustomize-helm-example"
FLUX_KINDS = {
    "HelmRelease",
    "Kustomization",
    "HelmRepository",
    "OCIRepository",
    "ArtifactGenerator",
}
GATEWAY_KINDS = {"Gateway", "GatewayClass"}


def load(paths: list[Path]) -> list[Manifest]:
    """Every YAML document as a Manifest with its repo-relative file and start line."""
    out = []
    for path in paths:
        loader = yaml.SafeLoader(path.read_text("utf-8"))
        try:
            while loader.check_node():
                node = loader.get_node()
                assert node is not None
                body = loader.construct_document(node)
                if isinstance(body, dict):
                    out.append(
                        Manifest(body, str(path.relative_to(REPO)), node.start_mark.line + 1)
                    )
        finally:
            loader.dispose()
    return out


def cluster_objects(under: str = "") -> list[Manifest]:
    """Objects Flux would apply: not kustomize build files nor values patches."""
    files = sorted(
        p
        for p in (REPO / under).rglob("*.yaml")
        if p.name != "kustomization.yaml" and not p.name.endswith("-values.yaml")
    )
    return load(files)


def test_fixture_is_present() -> None:
    assert (REPO / "apps" / "base" / "podinfo" / "release.yaml").is_file()


def test_flux_gateway_and_cert_manager_kinds_validate_from_the_catalogue() -> None:
    manifests = cluster_objects()
    kinds = {m.kind for m in manifests}
    assert FLUX_KINDS | GATEWAY_KINDS | {"Namespace", "ClusterIssuer"} <= kinds
    assert EmbeddedValidator().validate(manifests, "1.35") == []


def test_skip_list_still_skips_catalogue_kinds() -> None:
    broken = cluster_objects()
    for manifest in broken:
        if manifest.kind in FLUX_KINDS | GATEWAY_KINDS | {"ClusterIssuer"}:
            manifest.body["spec"]["typo"] = True
    assert len(EmbeddedValidator().validate(broken, "1.35")) == len(broken) - 3  # Namespaces
    skip = [
        "helm.toolkit.fluxcd.io/v2/HelmRelease",
        "Kustomization",
        "HelmRepository",
        "OCIRepository",
        "ArtifactGenerator",
        "gateway.networking.k8s.io/v1/Gateway",
        "GatewayClass",
        "cert-manager.io/v1/ClusterIssuer",
    ]
    assert EmbeddedValidator(skip_kinds=skip).validate(broken, "1.35") == []


def test_gvk_skip_entry_for_another_version_does_not_skip() -> None:
    releases = [m for m in cluster_objects("apps") if m.kind == "HelmRelease"]
    for manifest in releases:
        manifest.body["spec"]["typo"] = True
    found = EmbeddedValidator(skip_kinds=["helm.toolkit.fluxcd.io/v2beta1/HelmRelease"]).validate(
        releases, "1.35"
    )
    assert len(found) == len(releases) > 0
    assert all("additional property 'typo'" in f.message for f in found)


def test_review_with_no_config_finds_a_schema_for_everything(tools: Tools, tmp_path: Path) -> None:
    repo = tmp_path / "flux"
    shutil.copytree(REPO, repo)
    assert not (repo / ".gitops-bot.yaml").exists()
    result = review_worktree(
        repo,
        ReviewOptions(
            tools=tools, cache_dir=tmp_path / "cache", validator="embedded", enforce_approvals=False
        ),
    )
    assert len(result.targets) >= 6
    validate = [f for t in result.targets for f in t.findings if f.check == "validate"]
    validate += [f for f in result.findings if f.check == "validate"]
    assert [f.message for f in validate if "no schema" in f.message] == []
    assert validate == []


def test_one_cluster_has_no_duplicates_but_two_clusters_together_do() -> None:
    assert duplicate_findings(cluster_objects("clusters/production")) == []
    both = duplicate_findings(cluster_objects("clusters"))
    assert both and all(f.file and f.file.startswith("clusters/staging/") for f in both)
    expected = "Kustomization/flux-system/apps (kustomize.toolkit.fluxcd.io) is defined more"
    assert any(expected in f.message for f in both)
