"""The real fluxcd/flux2-kustomize-helm-example objects through the embedded validator."""
from __future__ import annotations

from pathlib import Path

import yaml

from bot.model import Manifest
from bot.validate import EmbeddedValidator, duplicate_findings
from tests.conftest import FIXTURES

REPO = FIXTURES / "gitops-repos" / "fluxcd--flux2-kustomize-helm-example"
FLUX_KINDS = {"HelmRelease", "Kustomization", "HelmRepository", "OCIRepository",
              "ArtifactGenerator"}
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
                    out.append(Manifest(body, str(path.relative_to(REPO)),
                                        node.start_mark.line + 1))
        finally:
            loader.dispose()
    return out


def cluster_objects(under: str = "") -> list[Manifest]:
    """Objects Flux would apply: not kustomize build files nor values patches."""
    files = sorted(p for p in (REPO / under).rglob("*.yaml") if p.name != "kustomization.yaml"
                   and not p.name.endswith("-values.yaml"))
    return load(files)


def test_fixture_is_present() -> None:
    assert (REPO / "apps" / "base" / "podinfo" / "release.yaml").is_file()


def test_flux_and_gateway_kinds_have_no_schema_and_core_kinds_validate() -> None:
    manifests = cluster_objects()
    kinds = {m.kind for m in manifests}
    assert FLUX_KINDS | GATEWAY_KINDS | {"Namespace"} <= kinds
    findings = EmbeddedValidator().validate(manifests, "1.35")
    flagged = {(f.file, f.line) for f in findings}
    for manifest in manifests:
        located = (manifest.file, manifest.line)
        if manifest.kind == "Namespace":
            assert located not in flagged, manifest
        else:
            [finding] = [f for f in findings if (f.file, f.line) == located]
            assert finding.message == (
                f"{manifest.key}: no schema for {manifest.api_version} {manifest.kind} in "
                "Kubernetes 1.35: add its CustomResourceDefinition to the render or to a CRD "
                "folder, or list the kind in skip_kinds")
    assert len(findings) == sum(1 for m in manifests if m.kind != "Namespace")


def test_skip_list_covers_the_custom_kinds() -> None:
    skip = ["helm.toolkit.fluxcd.io/v2/HelmRelease", "Kustomization", "HelmRepository",
            "OCIRepository", "ArtifactGenerator", "gateway.networking.k8s.io/v1/Gateway",
            "GatewayClass", "cert-manager.io/v1/ClusterIssuer"]
    assert EmbeddedValidator(skip_kinds=skip).validate(cluster_objects(), "1.35") == []


def test_gvk_skip_entry_for_another_version_does_not_skip() -> None:
    found = EmbeddedValidator(skip_kinds=["helm.toolkit.fluxcd.io/v2beta1/HelmRelease"]) \
        .validate(cluster_objects("apps"), "1.35")
    assert [f for f in found if "HelmRelease" in f.message]


def test_one_cluster_has_no_duplicates_but_two_clusters_together_do() -> None:
    assert duplicate_findings(cluster_objects("clusters/production")) == []
    both = duplicate_findings(cluster_objects("clusters"))
    assert both and all(f.file and f.file.startswith("clusters/staging/") for f in both)
    expected = "Kustomization/flux-system/apps (kustomize.toolkit.fluxcd.io) is defined more"
    assert any(expected in f.message for f in both)
