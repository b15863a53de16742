"""Dangerous changes (bot.dangerous): what Kubernetes rejects or what a revert cannot undo."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.dangerous import detect
from bot.diff import normalize
from bot.model import Manifest, ObjKey


def obj(
    api_version: str,
    kind: str,
    name: str,
    spec: dict[str, Any] | None = None,
    ns: str = "shop",
    **meta: Any,
) -> Manifest:
    body: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, **({"namespace": ns} if ns else {}), **meta},
    }
    if spec is not None:
        body["spec"] = spec
    return Manifest(body, f"apps/shop/{name}.yaml", 1)


def changed(m: Manifest, path: str, value: Any) -> Manifest:
    body = copy.deepcopy(dict(m.body))
    node = body
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return Manifest(body, m.file, m.line)


def kinds(before: list[Manifest], after: list[Manifest]) -> list[tuple[str, str, str | None]]:
    return [(d.kind, d.severity, d.field) for d in detect(before, after, normalize)]


DEPLOY = obj(
    "apps/v1",
    "Deployment",
    "web",
    {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"spec": {"containers": []}},
    },
)
STS = obj(
    "apps/v1",
    "StatefulSet",
    "db",
    {
        "serviceName": "db",
        "selector": {"matchLabels": {"app": "db"}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
    },
)


@pytest.mark.parametrize(
    ("before", "after", "field"),
    [
        (
            DEPLOY,
            changed(DEPLOY, "spec.selector", {"matchLabels": {"app": "web2"}}),
            "spec.selector",
        ),
        (STS, changed(STS, "spec.serviceName", "db-headless"), "spec.serviceName"),
        (
            STS,
            changed(STS, "spec.volumeClaimTemplates", [{"metadata": {"name": "data2"}}]),
            "spec.volumeClaimTemplates",
        ),
        (
            obj(
                "batch/v1",
                "Job",
                "migrate",
                {"template": {"spec": {"containers": [{"image": "m:1"}]}}},
            ),
            obj(
                "batch/v1",
                "Job",
                "migrate",
                {"template": {"spec": {"containers": [{"image": "m:2"}]}}},
            ),
            "spec.template",
        ),
        (
            obj("v1", "Service", "web", {"clusterIP": "10.0.0.10"}),
            obj("v1", "Service", "web", {"clusterIP": "10.0.0.11"}),
            "spec.clusterIP",
        ),
        (
            obj("v1", "PersistentVolumeClaim", "data", {"storageClassName": "gp2"}),
            obj("v1", "PersistentVolumeClaim", "data", {"storageClassName": "gp3"}),
            "spec.storageClassName",
        ),
    ],
)
def test_immutable_field_changes_are_errors(before: Manifest, after: Manifest, field: str) -> None:
    [danger] = detect([before], [after], normalize)
    assert (danger.kind, danger.severity, danger.field, danger.object) == (
        "immutable-field",
        "error",
        field,
        after.key,
    )
    assert "immutable: the API server rejects the update" in danger.message


def test_fields_the_cluster_fills_in_are_not_immutable_changes() -> None:
    svc = obj("v1", "Service", "web", {"ports": [{"port": 80}]})
    assert kinds([svc], [changed(svc, "spec.clusterIP", "10.0.0.10")]) == []
    pvc = obj("v1", "PersistentVolumeClaim", "data", {"resources": {}})
    assert kinds([pvc], [changed(pvc, "spec.storageClassName", "gp3")]) == []
    assert kinds([DEPLOY], [changed(DEPLOY, "spec.replicas", 5)]) == []


def test_service_leaving_external_name_warns() -> None:
    before = obj("v1", "Service", "db", {"type": "ExternalName", "externalName": "db.example"})
    after = obj("v1", "Service", "db", {"type": "ClusterIP"})
    assert kinds([before], [after]) == [("type-change", "warning", "spec.type")]


def test_scaling_to_zero_warns() -> None:
    assert kinds([DEPLOY], [changed(DEPLOY, "spec.replicas", 0)]) == [
        ("scale-to-zero", "warning", "spec.replicas")
    ]


@pytest.mark.parametrize(
    "gone",
    [
        obj("v1", "Namespace", "shop", ns=""),
        obj("v1", "PersistentVolumeClaim", "data"),
        obj("v1", "PersistentVolume", "pv-1", ns=""),
        obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com", ns=""),
        obj(
            "argoproj.io/v1alpha1",
            "Application",
            "shop",
            ns="argocd",
            finalizers=["resources-finalizer.argocd.argoproj.io"],
        ),
        obj(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "apps",
            {"prune": True},
            ns="flux-system",
        ),
    ],
)
def test_deleting_data_or_a_cascading_app_is_an_error(gone: Manifest) -> None:
    dangers = detect([gone, DEPLOY], [DEPLOY], normalize)
    assert [(d.kind, d.severity, d.object) for d in dangers] == [
        ("delete", "error", gone.key),
        ("prune", "info", None),
    ]
    assert dangers[0].message.startswith(f"{gone.key} is deleted: ")
    assert (dangers[0].file, dangers[0].line) == (gone.file, gone.line)


def test_deleting_an_ordinary_object_only_counts_as_pruned() -> None:
    cms = [obj("v1", "ConfigMap", f"c{i}") for i in range(7)]
    [prune] = detect(cms, cms[:1], normalize)
    assert (prune.kind, prune.severity, prune.count) == ("prune", "info", 6)
    assert prune.message == (
        "a deploy prunes 6 objects: ConfigMap/shop/c1, ConfigMap/shop/c2, "
        "ConfigMap/shop/c3, ConfigMap/shop/c4, ConfigMap/shop/c5 …"
    )


def test_an_application_without_the_finalizer_is_no_cascade() -> None:
    app = obj("argoproj.io/v1alpha1", "Application", "shop", ns="argocd")
    assert kinds([app], []) == [("prune", "info", None)]


def test_a_generated_name_replaced_is_not_a_surprising_prune() -> None:
    old = obj("v1", "ConfigMap", "cfg-5g7h8k9m2t")
    new = obj("v1", "ConfigMap", "cfg-9b8c7d6f5g")
    assert detect([old], [new], normalize, {new.key: old.key}) == []
    assert ObjKey("", "ConfigMap", "shop", "cfg-5g7h8k9m2t") == old.key
