"""Custom resources validate out of the box: upstream examples, typos, overrides, hints."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.model import Manifest, Severity
from bot.validate import EmbeddedValidator, KubeconformValidator, catalogue, crds, schemas
from tests.conftest import FIXTURES
from tests.validate.test_flux_example_repo import REPO as FLUX_REPO
from tests.validate.test_kubeconform_validator import stand_in

HERE = FIXTURES / "crd-catalogue"
EXAMPLES = sorted(p for p in (HERE / "examples").glob("*/*.yaml") if "invalid" not in p.name)
KUSTOMIZATION_CRD = HERE / "crds" / "kustomize.toolkit.fluxcd.io_kustomizations.yaml"


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text("utf-8")) if isinstance(d, dict)]


def one(path: Path, kind: str) -> dict[str, Any]:
    [body] = [d for d in docs(path) if d.get("kind") == kind]
    return body


def messages(bodies: list[dict[str, Any]], **options: Any) -> list[str]:
    manifests = [Manifest(copy.deepcopy(b), "x.yaml", i + 1) for i, b in enumerate(bodies)]
    return [f.message for f in EmbeddedValidator(**options).validate(manifests, "1.35")]


def flux_kustomization() -> dict[str, Any]:
    return one(FLUX_REPO / "clusters" / "production" / "apps.yaml", "Kustomization")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_upstream_examples_of_each_project_pass(path: Path) -> None:
    bodies = docs(path)
    assert bodies
    for body in bodies:
        group, version = schemas.split_api_version(body["apiVersion"])
        assert catalogue.index()[(group, version, body["kind"])] == path.parent.name
    assert messages(bodies) == []


def test_istio_invalid_examples_fail_where_istio_expects() -> None:
    for body in docs(HERE / "examples" / "istio" / "destinationrule-invalid.yaml"):
        expected = body.pop("_err").split(":")[0]
        found = messages([body])
        assert found and all(
            m.startswith(f"DestinationRule/bookinfo-ratings: {expected}")
            or m.startswith("DestinationRule/bookinfo-ratings: " + expected.rpartition(".")[0])
            for m in found
        ), (expected, found)


def test_typo_in_a_flux_kustomization_is_an_unknown_field() -> None:
    body = flux_kustomization()
    assert messages([body]) == []
    body["spec"]["prunee"] = True
    assert messages([body]) == [
        "Kustomization/flux-system/apps: spec: additional property 'prunee' is not allowed"
    ]


def test_argo_cd_application_with_a_wrong_type_fails() -> None:
    app = one(HERE / "examples" / "argo-cd" / "application.yaml", "Application")
    app["spec"]["syncPolicy"]["automated"]["prune"] = "yes"
    app["spec"]["revisionHistoryLimit"] = "ten"
    assert messages([app]) == [
        "Application/argocd/guestbook: spec.revisionHistoryLimit: 'ten' is not of type 'integer'",
        "Application/argocd/guestbook: spec.syncPolicy.automated.prune: 'yes' is not of type "
        "'boolean'",
    ]


def test_preserve_unknown_fields_stays_open_exactly_there() -> None:
    release = one(FLUX_REPO / "apps" / "base" / "podinfo" / "release.yaml", "HelmRelease")
    release["spec"]["values"] = {"anything": {"deep": [1, {"x": None}]}, "replicaCount": "2"}
    assert messages([release]) == []
    release["spec"]["valuez"] = {}
    assert messages([release]) == [
        "HelmRelease/podinfo/podinfo: spec: additional property 'valuez' is not allowed"
    ]


def test_sealed_secret_checks_against_its_schema() -> None:
    sealed = one(HERE / "examples" / "sealed-secrets" / "sealedsecret.yaml", "SealedSecret")
    sealed["spec"]["encryptedDta"] = sealed["spec"].pop("encryptedData")
    sealed["spec"]["template"]["type"] = 3
    assert messages([sealed]) == [
        "SealedSecret/example: spec: additional property 'encryptedDta' is not allowed",
        "SealedSecret/example: spec: missing required property 'encryptedData'",
        "SealedSecret/example: spec.template.type: 3 is not of type 'string'",
    ]


def test_defaulted_type_picks_one_gateway_address_branch() -> None:
    gateway = one(HERE / "examples" / "gateway-api" / "gateway-addresses.yaml", "Gateway")
    gateway["spec"]["addresses"] = [
        {"value": "1.2.3.4"},
        {"type": "Hostname", "value": "example.com"},
    ]
    assert messages([gateway]) == []
    gateway["spec"]["addresses"] = [{"type": "NamedAddress", "value": "x", "bogus": 1}]
    assert messages([gateway]) == [
        "Gateway/gateway-addresses: spec.addresses[0]: additional property 'bogus' is not allowed"
    ]


def override_crd(field: str) -> dict[str, Any]:
    [crd] = crds.load_documents(KUSTOMIZATION_CRD.read_text("utf-8"))
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"][field] = {"type": "boolean"}
    return dict(crd)


def test_a_crd_in_the_render_wins_over_the_catalogue() -> None:
    body = flux_kustomization()
    body["spec"]["prunee"] = True
    assert messages([override_crd("prunee"), body]) == []
    body["spec"]["pruneee"] = True
    assert messages([override_crd("prunee"), body]) == [
        "Kustomization/flux-system/apps: spec: additional property 'pruneee' is not allowed"
    ]


def test_a_crd_folder_wins_over_the_catalogue(tmp_path: Path) -> None:
    (tmp_path / "crd.yaml").write_text(yaml.safe_dump(override_crd("retries")))
    body = flux_kustomization()
    body["spec"]["retries"] = True
    assert messages([body], crd_dirs=[tmp_path]) == []
    assert messages([body]) == [
        "Kustomization/flux-system/apps: spec: additional property 'retries' is not allowed"
    ]


def test_crd_folder_with_a_plain_equals_sign_loads(tmp_path: Path) -> None:
    text = re.sub(
        r"(\n\s+)- GitRepository\n",
        r"\1- =\1- GitRepository\n",
        KUSTOMIZATION_CRD.read_text("utf-8"),
        count=1,
    )
    assert "- =\n" in text
    (tmp_path / "crd.yaml").write_text(text)
    body = flux_kustomization()
    body["spec"]["sourceRef"]["kind"] = "="
    assert messages([body], crd_dirs=[tmp_path]) == []


def test_an_unknown_version_names_what_the_catalogue_has() -> None:
    body = flux_kustomization()
    body["apiVersion"] = "kustomize.toolkit.fluxcd.io/v1beta1"
    assert messages([body]) == [
        "Kustomization/flux-system/apps: no schema for kustomize.toolkit.fluxcd.io/v1beta1 "
        "Kustomization in Kubernetes 1.35 (the bundled catalogue has "
        "kustomize.toolkit.fluxcd.io/v1, kustomize.toolkit.fluxcd.io/v1beta2): add its "
        "CustomResourceDefinition to the render or to a CRD folder, or list the kind in "
        "skip_kinds"
    ]
    assert messages([body], skip_kinds=["Kustomization"]) == []


def test_not_strict_accepts_unknown_fields_but_not_wrong_types() -> None:
    body = flux_kustomization()
    body["spec"]["prunee"] = True
    assert messages([body], strict=False) == []
    body["spec"]["prune"] = "yes"
    assert messages([body], strict=False) == [
        "Kustomization/flux-system/apps: spec.prune: 'yes' is not of type 'boolean'"
    ]


def test_a_catalogue_kind_compiles_once() -> None:
    schemas.clear_cache()
    bodies = []
    for i in range(30):
        body = flux_kustomization()
        body["metadata"]["name"] = f"k{i}"
        bodies.append(body)
    assert messages(bodies) == [] and messages(bodies) == []
    assert schemas.STATS.counts == {"fast": 1, "detailed": 0}


def test_kubeconform_checks_catalogue_kinds_with_the_same_schemas(tmp_path: Path) -> None:
    exe, _ = stand_in(tmp_path)
    good, bad = flux_kustomization(), flux_kustomization()
    bad["metadata"]["name"] = "typo"
    bad["spec"]["prunee"] = True
    found = KubeconformValidator(exe).validate(
        [Manifest(good, "a.yaml", 1), Manifest(bad, "a.yaml", 9)], "1.35"
    )
    assert [(f.line, f.severity, f.message) for f in found] == [
        (
            9,
            Severity.ERROR,
            "Kustomization/flux-system/typo: spec: additionalProperties 'prunee' not allowed",
        )
    ]
