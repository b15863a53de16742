"""Pure parts of the live layer: drift, projection, layout, apply planning, outcomes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.secrets import secret_values
from bot.live import applyplan, fields, layout
from bot.live.base import DeployOutcome, UnsafeObject, as_stored, drift
from bot.model import DiffStatus, Manifest, ObjKey
from tests.live.helpers import (
    SECRET_B64,
    SECRET_PLAIN,
    configmap,
    deployment,
    manifests,
    namespace,
    secret,
)


def live_of(body: dict[str, Any], owned: dict[str, Any] | None = None) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["metadata"].update(
        uid="u", resourceVersion="9", generation=3, creationTimestamp="2026-01-01T00:00:00Z"
    )
    out["metadata"]["managedFields"] = [
        {
            "manager": "gitops-bot",
            "operation": "Apply",
            "fieldsType": "FieldsV1",
            "fieldsV1": owned or {},
        }
    ]
    out["status"] = {"replicas": 2}
    return out


def test_drift_created_changed_deleted_and_masked() -> None:
    desired = {"t": manifests(configmap(), deployment(replicas=3), secret(value="new-value"))}
    live = {"t": manifests(deployment(), secret(), configmap("extra"))}
    result = drift(desired, live)["t"]
    assert [(d.key.name, d.key.kind, d.status) for d in result] == [
        ("web", "ConfigMap", DiffStatus.CREATED),
        ("db", "Secret", DiffStatus.CHANGED),
        ("web", "Deployment", DiffStatus.CHANGED),
        ("extra", "ConfigMap", DiffStatus.DELETED),
    ]
    assert result[1].changed_fields == ("data.password",)
    assert SECRET_PLAIN not in repr(result) and SECRET_B64 not in repr(result)
    assert "new-value" not in repr(result)


def test_drift_treats_string_data_like_the_api_server() -> None:
    stored = as_stored(secret())
    assert stored["data"] == {"password": SECRET_B64} and "stringData" not in stored
    assert drift({"t": manifests(secret())}, {"t": manifests(dict(stored))}) == {"t": []}


def test_project_drops_defaults_status_and_foreign_fields() -> None:
    want = deployment()
    live = live_of(want)
    live["spec"]["revisionHistoryLimit"] = 10
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    live["spec"]["template"]["spec"]["containers"].append({"name": "istio-proxy", "image": "x"})
    live["metadata"]["labels"].update(
        {fields.TARGET_LABEL: "shop.prod", fields.MANAGED_BY: "gitops-bot"}
    )
    live["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "4"}
    assert fields.project(live, want) == want


def test_project_keeps_owned_fields_the_render_dropped() -> None:
    want = configmap()
    live = live_of(
        configmap(mode="prod", extra="1"), owned={"f:data": {"f:mode": {}, "f:extra": {}}}
    )
    assert fields.project(live, want)["data"] == {"mode": "prod", "extra": "1"}
    assert [
        d.changed_fields
        for d in drift({"t": manifests(want)}, {"t": manifests(fields.project(live, want))})["t"]
    ] == [("data.extra",)]


def test_project_matches_unnamed_list_items_by_owned_keys() -> None:
    want = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"ports": [{"port": 80}]},
    }
    live = live_of(
        want,
        owned={"f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}}}},
    )
    live["spec"]["ports"] = [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert fields.project(live, want)["spec"] == {"ports": [{"port": 80}]}


def test_labels_added_and_removed() -> None:
    labelled = fields.with_labels(configmap(), "shop.prod")
    assert labelled["metadata"]["labels"] == {
        fields.TARGET_LABEL: "shop.prod",
        fields.MANAGED_BY: "gitops-bot",
    }
    helm = configmap()
    helm["metadata"]["labels"] = {fields.MANAGED_BY: "Helm"}
    assert fields.with_labels(helm, "x")["metadata"]["labels"][fields.MANAGED_BY] == "Helm"
    assert fields.without_labels(labelled, configmap())["metadata"]["labels"] == {}
    with pytest.raises(ValueError):
        fields.target_label("a" * 60, "prod")


def test_layout_paths_round_trip() -> None:
    key = ObjKey("rbac.authorization.k8s.io", "ClusterRole", "", "system:reader")
    path = layout.object_path("deploy", "shop", key)
    assert path == "deploy/shop/_cluster/ClusterRole.rbac.authorization.k8s.io/system:reader.yaml"
    assert layout.key_of("deploy/shop", path) == key
    core = ObjKey("", "ConfigMap", "shop", "web")
    assert layout.key_of("shop", layout.object_path("", "shop", core)) == core
    for bad in ("..", "a/b", "", ".x", "a\\b", "a\nb", "x" * 300):
        with pytest.raises(UnsafeObject):
            layout.object_path("", "shop", ObjKey("", "ConfigMap", "shop", bad))
    for base in ("../x", "/abs/..", "a/../b", ".git", "a/.git/b"):
        with pytest.raises(UnsafeObject):
            layout.check_base(base)
    assert layout.check_base("/deploy/prod/") == "deploy/prod"


def test_layout_yaml_is_stable_and_keeps_empty_selectors() -> None:
    policy = {
        "kind": "NetworkPolicy",
        "apiVersion": "networking.k8s.io/v1",
        "metadata": {"name": "deny", "namespace": "shop", "uid": "x"},
        "spec": {"podSelector": {}},
        "status": {},
    }
    text = layout.to_yaml(policy).decode()
    assert text.startswith("apiVersion:") and "podSelector: {}" in text and "uid" not in text
    with pytest.raises(UnsafeObject):
        layout.app_files("", "shop", manifests(configmap(), configmap()))


def test_waves_and_printed_names() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "w.example.com"},
    }
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    groups = applyplan.waves(manifests(deployment(), configmap(), cr, namespace(), crd))
    assert [[m.kind for m in g] for g in groups] == [
        ["Namespace", "CustomResourceDefinition"],
        ["ConfigMap"],
        ["Deployment", "Widget"],
    ]
    a, b = ObjKey("", "ConfigMap", "one", "web"), ObjKey("", "ConfigMap", "two", "web")
    c = ObjKey("apps", "Deployment", "one", "web")
    # b failed: the second "configmap/web" line can only be a's namesake after it
    assert applyplan.match_printed([a, b, c], ["configmap/web", "deployment.apps/web"]) == {a, c}


def test_secret_values_cover_plain_and_base64() -> None:
    values = secret_values(
        manifests(
            secret(),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "b"},
                "data": {"k": SECRET_B64},
            },
        )
    )
    assert {SECRET_PLAIN, SECRET_B64} <= values


def test_prune_candidates_only_labelled_and_never_namespaces() -> None:
    def labelled(body: dict[str, Any], label: str) -> Manifest:
        return Manifest(fields.with_labels(body, label))

    live = [
        labelled(configmap("old"), "shop.prod"),
        labelled(configmap("other"), "x.prod"),
        Manifest(configmap("manual")),
        labelled(namespace("gone"), "shop.prod"),
        labelled(configmap(), "shop.prod"),
    ]
    choice = applyplan.prune_candidates(live, [ObjKey("", "ConfigMap", "shop", "web")], "shop.prod")
    assert [m.key.name for m in choice.delete] == ["old"]
    assert choice.kept == (ObjKey("", "Namespace", "", "gone"),)


def test_outcome_summary_and_ok() -> None:
    key = ObjKey("", "ConfigMap", "shop", "web")
    assert (
        DeployOutcome(applied=(key,) * 12, pruned=(key,)).summary()
        == "12 objects changed, 1 pruned; 0 failed"
    )
    bad = DeployOutcome(applied=(key,), failed=((key, "boom"),), not_attempted=(key,))
    assert not bad.ok and bad.summary() == "1 object changed, 0 pruned; 1 failed, 1 not attempted"
