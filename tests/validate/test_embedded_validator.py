"""EmbeddedValidator: bundled schemas, strictness, CRDs, skip list, versions, cache, threads."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.model import Finding, Manifest, ObjKey, Severity
from bot.validate import EmbeddedValidator, schemas
from tests.validate.samples import CONFIGMAP, CRD, DEPLOYMENT, SERVICE, WIDGET


def m(body: dict[str, Any], file: str = "app/manifests.yaml", line: int = 1) -> Manifest:
    return Manifest(copy.deepcopy(body), file, line)


def messages(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings]


@pytest.fixture(scope="module")
def validator() -> EmbeddedValidator:
    return EmbeddedValidator()


def test_valid_core_objects_have_no_findings(validator: EmbeddedValidator) -> None:
    assert validator.validate([m(DEPLOYMENT), m(SERVICE), m(CONFIGMAP)], "1.35") == []


def test_wrong_type_is_reported_with_path_and_location(validator: EmbeddedValidator) -> None:
    body = copy.deepcopy(DEPLOYMENT)
    body["spec"]["replicas"] = "three"
    [found] = validator.validate([Manifest(body, "apps/web.yaml", 7)], "1.35")
    assert found.message == "Deployment/web: spec.replicas: 'three' is not of type 'integer'"
    assert (found.severity, found.check, found.file, found.line) == (
        Severity.ERROR,
        "validate",
        "apps/web.yaml",
        7,
    )
    assert found.object == ObjKey("apps", "Deployment", "", "web")


def test_unknown_field_fails_in_strict_mode_only() -> None:
    body = copy.deepcopy(DEPLOYMENT)
    body["spec"]["template"]["spec"]["containers"][0]["imagee"] = "nginx"
    assert messages(EmbeddedValidator().validate([m(body)], "1.35")) == [
        (
            "Deployment/web: spec.template.spec.containers[0]: additional property 'imagee' "
            "is not allowed"
        )
    ]
    assert EmbeddedValidator(strict=False).validate([m(body)], "1.35") == []


def test_missing_required_field(validator: EmbeddedValidator) -> None:
    body = copy.deepcopy(DEPLOYMENT)
    del body["spec"]["template"]["spec"]["containers"][0]["name"]
    assert messages(validator.validate([m(body)], "1.35")) == [
        "Deployment/web: spec.template.spec.containers[0]: missing required property 'name'"
    ]


def test_every_error_of_one_object_is_reported_with_its_path(validator: EmbeddedValidator) -> None:
    body = copy.deepcopy(DEPLOYMENT)
    body["spec"]["replicas"] = "three"
    body["spec"]["paused"] = "yes"
    del body["spec"]["selector"]
    body["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    body["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "80"
    body["metadata"]["labels"]["n"] = 5
    assert sorted(messages(validator.validate([m(body)], "1.35"))) == sorted(
        [
            "Deployment/web: metadata.labels.n: 5 is not of type 'string'",
            "Deployment/web: spec: missing required property 'selector'",
            "Deployment/web: spec.paused: 'yes' is not of type 'boolean'",
            "Deployment/web: spec.replicas: 'three' is not of type 'integer'",
            (
                "Deployment/web: spec.template.spec.containers[0]: additional property 'imagee' "
                "is not allowed"
            ),
            (
                "Deployment/web: spec.template.spec.containers[0].ports[0].containerPort: '80' is not "
                "of type 'integer'"
            ),
        ]
    )


def test_unknown_top_level_field_and_quoted_path(validator: EmbeddedValidator) -> None:
    body = copy.deepcopy(CONFIGMAP)
    body["dataa"] = {}
    body["data"]["app.kubernetes.io/x"] = 1
    assert sorted(messages(validator.validate([m(body)], "1.35"))) == [
        "ConfigMap/cfg: additional property 'dataa' is not allowed",
        "ConfigMap/cfg: data[\"app.kubernetes.io/x\"]: 1 is not of type 'string'",
    ]


def test_bad_api_version_names_the_served_ones(validator: EmbeddedValidator) -> None:
    # (apps/v1beta1 is in the deprecation table: tests/validate/test_deprecations.py)
    body = dict(copy.deepcopy(DEPLOYMENT), apiVersion="apps/v1beta3")
    assert messages(validator.validate([m(body)], "1.35")) == [
        (
            "Deployment/web: Deployment is not served as apps/v1beta3 in Kubernetes 1.35 "
            "(served: apps/v1)"
        )
    ]


def test_group_must_match_exactly_not_just_the_file_name(validator: EmbeddedValidator) -> None:
    # networking.example.com/v1 Ingress maps to the same kubeconform file as the real one.
    body = {"apiVersion": "networking.example.com/v1", "kind": "Ingress", "metadata": {"name": "x"}}
    [found] = validator.validate([m(body)], "1.35")
    assert "no schema for networking.example.com/v1 Ingress" in found.message


def test_unknown_kind_fails_with_guidance(validator: EmbeddedValidator) -> None:
    [found] = validator.validate([m(WIDGET)], "v1.35.2")
    assert found.message == (
        "Widget/shop/w1: no schema for example.com/v1 Widget in Kubernetes 1.35: add its "
        "CustomResourceDefinition to the render or to a CRD folder, or list the kind in "
        "skip_kinds"
    )
    assert found.object == ObjKey("example.com", "Widget", "shop", "w1")


def test_crd_in_the_render_validates_its_custom_resources(validator: EmbeddedValidator) -> None:
    assert validator.validate([m(CRD), m(WIDGET)], "1.35") == []
    bad = copy.deepcopy(WIDGET)
    bad["spec"] = {"size": "big", "colour": "red", "port": 8080}
    bad["metadata"]["labels"] = {"a": 1}
    assert sorted(messages(validator.validate([m(CRD), m(bad, line=9)], "1.35"))) == [
        "Widget/shop/w1: metadata.labels.a: 1 is not of type 'string'",
        "Widget/shop/w1: spec.size: 'big' is not of type 'integer'",
        "Widget/shop/w1: spec: additional property 'colour' is not allowed",
    ]


def test_crd_strictness_follows_preserve_unknown_fields() -> None:
    body = copy.deepcopy(WIDGET)
    body["spec"]["extra"]["free"] = True  # preserved subtree: open even when strict
    body["status"] = {"whatever": 1}  # object without properties: open
    assert EmbeddedValidator().validate([m(CRD), m(body)], "1.35") == []
    body["spec"]["unknown"] = 1
    assert EmbeddedValidator(strict=False).validate([m(CRD), m(body)], "1.35") == []
    assert len(EmbeddedValidator().validate([m(CRD), m(body)], "1.35")) == 1


def test_crd_of_another_version_does_not_cover_the_resource(validator: EmbeddedValidator) -> None:
    body = dict(copy.deepcopy(WIDGET), apiVersion="example.com/v2")
    [found] = validator.validate([m(CRD), m(body)], "1.35")
    assert "no schema for example.com/v2 Widget" in found.message


def test_crd_folder_is_read_once(tmp_path: Path) -> None:
    import yaml

    folder = tmp_path / "crds"
    folder.mkdir()
    (folder / "widgets.yaml").write_text(yaml.safe_dump(CRD))
    (folder / "notes.txt").write_text("not yaml: [")
    validator = EmbeddedValidator(crd_dirs=[folder])
    assert validator.validate([m(WIDGET)], "1.35") == []
    (folder / "widgets.yaml").unlink()  # loaded once: later calls do not re-read the folder
    bad = copy.deepcopy(WIDGET)
    bad["spec"]["size"] = 0
    [found] = validator.validate([m(bad)], "1.35")
    assert found.message.startswith("Widget/shop/w1: spec.size: 0 is less than the minimum")


@pytest.mark.parametrize("entry", ["Widget", "example.com/v1/Widget"])
def test_skip_list_kind_and_gvk_forms(entry: str) -> None:
    assert EmbeddedValidator(skip_kinds=[entry]).validate([m(WIDGET)], "1.35") == []


def test_skip_list_gvk_form_needs_the_same_version() -> None:
    found = EmbeddedValidator(skip_kinds=["example.com/v2/Widget"]).validate([m(WIDGET)], "1.35")
    assert len(found) == 1 and "no schema" in found[0].message


def test_core_gvk_skip_form() -> None:
    body = copy.deepcopy(CONFIGMAP)
    body["data"] = {"n": 1}
    assert EmbeddedValidator(skip_kinds=["v1/ConfigMap"]).validate([m(body)], "1.35") == []


@pytest.mark.parametrize("version", ["1.20", "1.99", "latest", "", "v2"])
def test_unsupported_version_is_one_clear_error(version: str, validator: EmbeddedValidator) -> None:
    [found] = validator.validate([m(DEPLOYMENT), m(SERVICE)], version)
    assert found.severity is Severity.ERROR and found.check == "validate"
    assert "not supported by the bundled schemas (supported: 1.25–1.37)" in found.message


@pytest.mark.parametrize(
    "version,expected",
    [("1.35", "v1.35.0"), ("v1.35.2", "v1.35.0"), ("1.25.0", "v1.25.0"), ("v1.37", "v1.37.0")],
)
def test_version_normalisation(version: str, expected: str) -> None:
    assert schemas.normalize_version(version) == expected


def test_objects_without_identity(validator: EmbeddedValidator) -> None:
    found = validator.validate(
        [
            m({"kind": "ConfigMap", "metadata": {"name": "a"}}),
            m({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
            m({"apiVersion": "v1", "metadata": {"name": "a"}}),
            Manifest(["not", "a", "mapping"], "x.yaml", 3),  # type: ignore[arg-type]
        ],
        "1.35",
    )
    assert [f.message for f in found] == [
        "object without apiVersion: every object needs apiVersion, kind and metadata.name",
        "object without metadata.name: every object needs apiVersion, kind and metadata.name",
        "object without kind: every object needs apiVersion, kind and metadata.name",
        "document is a list, not a Kubernetes object",
    ]


def test_generate_name_objects_are_valid(validator: EmbeddedValidator) -> None:
    # Every Argo CD hook Job is named by generateName; the API server picks the name.
    hook = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "generateName": "schema-migrate-",
            "annotations": {"argocd.argoproj.io/hook": "PreSync"},
        },
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "migrate", "image": "ghcr.io/example/migrate:1.0"}],
                }
            }
        },
    }
    assert validator.validate([m(hook)], "1.35") == []


def test_yaml_timestamps_are_treated_as_strings(validator: EmbeddedValidator) -> None:
    import yaml

    body = yaml.safe_load(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {day: 2024-01-01}\n"
    )
    assert validator.validate([m(body)], "1.35") == []


def test_compiled_validators_are_cached_per_kind() -> None:
    schemas.clear_cache()
    validator = EmbeddedValidator()
    objs = [m(DEPLOYMENT), m(SERVICE), m(CONFIGMAP)] * 50
    assert validator.validate(objs, "1.35") == []
    assert schemas.STATS.counts == {"fast": 3, "detailed": 0}
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["replicas"] = "x"
    for _ in range(3):
        assert len(EmbeddedValidator().validate([m(bad), *objs], "1.35")) == 1
    assert schemas.STATS.counts == {"fast": 3, "detailed": 1}
    EmbeddedValidator().validate(objs, "1.34")  # another version is another schema
    assert schemas.STATS.counts["fast"] == 6


def test_concurrent_validation_compiles_each_kind_once() -> None:
    schemas.clear_cache()
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["replicas"] = "x"
    objs = [m(DEPLOYMENT), m(SERVICE), m(CONFIGMAP), m(bad), m(CRD), m(WIDGET)] * 20
    results: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait()
            results.append(messages(EmbeddedValidator().validate(objs, "1.33")))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert results[0].count("Deployment/web: spec.replicas: 'x' is not of type 'integer'") == 20
    # Deployment, Service, ConfigMap, CustomResourceDefinition, Widget: one compile each.
    assert schemas.STATS.counts == {"fast": 5, "detailed": 1}
