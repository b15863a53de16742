"""SOPS-encrypted objects: the `sops` block allowed, encrypted values accepted, only there."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from bot.model import Manifest, Severity
from bot.validate import EmbeddedValidator, KubeconformValidator, sops
from tests.conftest import FIXTURES
from tests.validate.samples import DEPLOYMENT
from tests.validate.test_kubeconform_validator import stand_in

SECRET = yaml.safe_load((FIXTURES / "crd-catalogue" / "sops" / "age-secret.yaml").read_text())
# SOPS's value format (aes/cipher.go), as it writes an integer and a boolean.
ENC_INT = (
    "ENC[AES256_GCM,data:Mw==,iv:9kQ2mWbq1bL6XQz6Hq1m0w4l3m6ZqJmWcE1l3b0s9hA=,"
    "tag:b0p4Q2wq9n9m3Zc1Y7a0cA==,type:int]"
)
ENC_BOOL = (
    "ENC[AES256_GCM,data:dHJ1ZQ==,iv:2bq1bL6XQz6Hq1m0w4l3m6ZqJmWcE1l3b0s9hA9kQ=,"
    "tag:Zc1Y7a0cAb0p4Q2wq9n9m3==,type:bool]"
)


def encrypted_deployment(with_sops: bool = True) -> dict[str, Any]:
    body = copy.deepcopy(DEPLOYMENT)
    body["spec"]["replicas"] = ENC_INT
    body["spec"]["template"]["spec"]["automountServiceAccountToken"] = ENC_BOOL
    body["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = ENC_INT
    if with_sops:
        body["sops"] = copy.deepcopy(SECRET["sops"])
    return body


def findings(*bodies: dict[str, Any]) -> list[tuple[Severity, str]]:
    manifests = [Manifest(copy.deepcopy(b), "s.yaml", i + 1) for i, b in enumerate(bodies)]
    return [(f.severity, f.message) for f in EmbeddedValidator().validate(manifests, "1.35")]


def note(label: str) -> tuple[Severity, str]:
    return (
        Severity.INFO,
        f"{label}: SOPS-encrypted: checked with its `sops` block allowed and "
        "encrypted values accepted in place of any scalar (their decrypted "
        "contents are not checked)",
    )


def test_real_sops_encrypted_secret_passes_with_a_note() -> None:
    assert sops.is_encrypted(SECRET)
    assert findings(SECRET) == [note("Secret/age")]


def test_encrypted_integers_and_booleans_pass_in_an_encrypted_deployment() -> None:
    assert findings(encrypted_deployment()) == [note("Deployment/web")]


def test_the_same_values_without_sops_metadata_fail() -> None:
    found = findings(encrypted_deployment(with_sops=False))
    assert [(s, m.split(": ")[1], m.split(" is ")[-1]) for s, m in found] == [
        (Severity.ERROR, "spec.replicas", "not of type 'integer'"),
        (
            Severity.ERROR,
            "spec.template.spec.automountServiceAccountToken",
            "not of type 'boolean'",
        ),
        (
            Severity.ERROR,
            "spec.template.spec.containers[0].ports[0].containerPort",
            "not of type 'integer'",
        ),
    ]


def test_relaxation_stays_in_the_encrypted_object() -> None:
    plain = encrypted_deployment(with_sops=False)
    plain["metadata"]["name"] = "plain"
    found = findings(encrypted_deployment(), plain)
    assert found[0] == note("Deployment/web")
    assert {m.split(":")[0] for _, m in found[1:]} == {"Deployment/plain"}
    assert len(found) == 4


def test_typos_and_wrong_types_are_still_errors_in_an_encrypted_object() -> None:
    body = encrypted_deployment()
    body["spec"]["replicaz"] = 2
    body["spec"]["paused"] = "not encrypted"
    assert findings(body) == [
        note("Deployment/web"),
        (Severity.ERROR, "Deployment/web: spec: additional property 'replicaz' is not allowed"),
        (
            Severity.ERROR,
            "Deployment/web: spec.paused: 'not encrypted' is not of type 'boolean' "
            "(nor a SOPS-encrypted value)",
        ),
    ]


def test_a_sops_key_without_sops_metadata_is_an_unknown_field() -> None:
    body = copy.deepcopy(DEPLOYMENT)
    body["sops"] = {"version": "3.9.0"}
    assert findings(body) == [
        (Severity.ERROR, "Deployment/web: additional property 'sops' is not allowed")
    ]


def test_encrypted_kind_cannot_be_identified() -> None:
    body = copy.deepcopy(SECRET)
    body["kind"] = ENC_INT.replace("type:int", "type:str")
    [(severity, message)] = findings(body)
    assert severity == Severity.ERROR
    assert message.startswith("SOPS encrypted kind, so the object cannot be identified")


def test_encrypted_custom_resource_from_the_catalogue() -> None:
    body = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {
            "interval": ENC_INT.replace("type:int", "type:str"),  # has a pattern
            "prune": ENC_BOOL,
            "path": "./apps",
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        },
        "sops": copy.deepcopy(SECRET["sops"]),
    }
    assert findings(body) == [note("Kustomization/flux-system/apps")]
    body["spec"]["sourceRef"]["kind"] = "Elsewhere"
    assert [s for s, _ in findings(body)] == [Severity.INFO, Severity.ERROR]


def test_kubeconform_path_checks_both_variants_of_a_kind(tmp_path: Path) -> None:
    exe, _ = stand_in(tmp_path)
    plain = encrypted_deployment(with_sops=False)
    plain["metadata"]["name"] = "plain"
    manifests = [Manifest(encrypted_deployment(), "a.yaml", 1), Manifest(plain, "a.yaml", 40)]
    found = KubeconformValidator(exe).validate(manifests, "1.35")
    assert [(f.line, f.severity) for f in found] == [
        (1, Severity.INFO),
        (40, Severity.ERROR),
        (40, Severity.ERROR),
        (40, Severity.ERROR),
    ]


def test_an_encrypted_secret_s_errors_never_quote_its_values() -> None:
    body = copy.deepcopy(SECRET)
    body["immutable"] = "s3cr3t-looking"
    body["stringData"]["other"] = 12345
    found = findings(body)
    assert found == [
        note("Secret/age"),
        (
            Severity.ERROR,
            "Secret/age: immutable: a value of type string is not of type "
            "'boolean' (nor a SOPS-encrypted value)",
        ),
        (
            Severity.ERROR,
            "Secret/age: stringData.other: a value of type integer is not of type 'string'",
        ),
    ]
    assert not any("s3cr3t" in m or "12345" in m for _, m in found)
