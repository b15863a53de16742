"""The `kubernetes` target with the real kubectl against the Kubernetes API test server."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError, Transient
from bot.live.base import DeploySource, EmptyRenderRefused, LiveUnavailable, drift
from bot.live.kubernetes import Kubernetes
from bot.model import DiffStatus, ObjKey
from bot.tools import Tools
from tests.kubeapi import KubeAPIServer
from tests.live.helpers import (
    SECRET_B64,
    SECRET_PLAIN,
    cluster_role,
    configmap,
    deployment,
    manifests,
    namespace,
    secret,
    service,
    target,
)

SOURCE = DeploySource(repo="acme/shop", sha="b" * 40, change=7, environment="prod")
LABEL = "shop.prod"


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }


def widget() -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "blue", "namespace": "shop"},
        "spec": {"size": 3},
    }


def service_account() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "web", "namespace": "shop"},
    }


@pytest.fixture
def api() -> Iterator[KubeAPIServer]:
    server = KubeAPIServer().start()
    yield server
    server.stop()


@pytest.fixture
def kube(api: KubeAPIServer, tmp_path: Path, tools: Tools) -> Kubernetes:
    assert tools.kubectl
    return Kubernetes(api.kubeconfig(tmp_path / "kubeconfig"), "test", kubectl=tools.kubectl)


def full_render() -> list[Any]:
    return manifests(
        namespace(),
        configmap(),
        secret(),
        service(),
        service_account(),
        deployment(),
        cluster_role(),
        crd(),
        widget(),
    )


def test_apply_creates_objects_with_labels_and_field_manager(
    api: KubeAPIServer, kube: Kubernetes
) -> None:
    outcome = kube.deploy({target(): full_render()}, SOURCE)
    assert outcome.ok, outcome
    assert outcome.summary() == "9 objects changed, 0 pruned; 0 failed"
    # waves: Namespace and CRD first, workloads and custom resources last
    kinds = [r.path.split("/")[-2] for r in api.calls("PATCH")]
    assert kinds.index("widgets") > kinds.index("customresourcedefinitions")
    assert set(kinds[:2]) == {"namespaces", "customresourcedefinitions"}
    assert kinds[-2:] == ["deployments", "widgets"]
    for obj in api.all():
        labels = obj["metadata"]["labels"]
        assert labels["gitops-bot.dev/target"] == LABEL
        assert labels["app.kubernetes.io/managed-by"] == "gitops-bot"
        managers = {(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]}
        assert managers == {("gitops-bot", "Apply")}
    assert {tuple(r.query["force"]) for r in api.calls("PATCH")} == {("false",)}
    stored = api.get("Secret", "db", "shop")
    assert stored is not None and stored["data"]["password"] == SECRET_B64


def test_reapply_is_a_no_op(api: KubeAPIServer, kube: Kubernetes) -> None:
    kube.deploy({target(): full_render()}, SOURCE)
    versions = {
        o["metadata"]["name"] + o["kind"]: o["metadata"]["resourceVersion"] for o in api.all()
    }
    again = kube.deploy({target(): full_render()}, SOURCE)
    assert again.ok and again.applied == () and len(again.unchanged) == 9
    assert {
        o["metadata"]["name"] + o["kind"]: o["metadata"]["resourceVersion"] for o in api.all()
    } == versions


def test_prune_deletes_managed_objects_only(api: KubeAPIServer, kube: Kubernetes) -> None:
    kube.deploy(
        {target(): manifests(namespace(), configmap(), configmap("old"), deployment())}, SOURCE
    )
    kube.deploy({target("billing"): manifests(configmap("billing"))}, SOURCE)
    api.create_unmanaged(configmap("manual"))
    outcome = kube.deploy({target(): manifests(namespace(), configmap(), deployment())}, SOURCE)
    assert outcome.ok and outcome.pruned == (ObjKey("", "ConfigMap", "shop", "old"),)
    assert api.get("ConfigMap", "old", "shop") is None
    assert api.get("ConfigMap", "manual", "shop") is not None  # never labelled: never pruned
    assert api.get("ConfigMap", "billing", "shop") is not None  # another target's
    assert [r.path for r in api.calls("DELETE")] == ["/api/v1/namespaces/shop/configmaps/old"]


def test_namespace_left_the_render_is_kept_not_pruned(api: KubeAPIServer, kube: Kubernetes) -> None:
    kube.deploy({target(): manifests(namespace(), namespace("extra"))}, SOURCE)
    outcome = kube.deploy({target(): manifests(namespace())}, SOURCE)
    assert outcome.pruned == () and "Namespace/extra" in outcome.message
    assert api.get("Namespace", "extra") is not None


def test_empty_render_refused_when_live_objects_exist(api: KubeAPIServer, kube: Kubernetes) -> None:
    kube.deploy({target(): manifests(namespace(), configmap())}, SOURCE)
    with pytest.raises(EmptyRenderRefused):
        kube.deploy({target(): []}, SOURCE)
    assert api.calls("DELETE") == [] and api.get("ConfigMap", "web", "shop") is not None


def test_failure_part_way_lists_applied_failed_not_attempted(
    api: KubeAPIServer, kube: Kubernetes
) -> None:
    # the API server echoes the Secret's values in its error, as real ones have
    # (docs/security.md#case-65)
    api.reject(
        "Secret", "db", 422, f'data[password]: Invalid value: "{SECRET_PLAIN}" ({SECRET_B64})'
    )
    render = manifests(namespace(), configmap(), secret(), service(), deployment())
    outcome = kube.deploy({target(): render}, SOURCE)
    assert not outcome.ok
    assert set(outcome.applied) == {
        ObjKey("", "Namespace", "", "shop"),
        ObjKey("", "ConfigMap", "shop", "web"),
        ObjKey("", "Service", "shop", "web"),
    }
    assert [k for k, _ in outcome.failed] == [ObjKey("", "Secret", "shop", "db")]
    assert outcome.not_attempted == (ObjKey("apps", "Deployment", "shop", "web"),)
    reason = outcome.failed[0][1]
    assert "invalid" in reason and "***" in reason
    text = repr(outcome) + outcome.summary()
    assert SECRET_PLAIN not in text and SECRET_B64 not in text
    assert outcome.summary() == "3 objects changed, 0 pruned; 1 failed, 1 not attempted"
    assert api.get("Deployment", "web", "shop") is None


def test_conflict_with_another_field_manager_fails_that_object(
    api: KubeAPIServer, kube: Kubernetes
) -> None:
    kube.deploy({target(): manifests(namespace(), deployment())}, SOURCE)
    api.update(
        "Deployment", "web", "shop", lambda b: b["spec"].update(replicas=5), manager="kubectl-scale"
    )
    outcome = kube.deploy({target(): manifests(namespace(), deployment())}, SOURCE)
    assert [k.kind for k, _ in outcome.failed] == ["Deployment"]
    assert "conflict" in outcome.failed[0][1].lower() and "replicas" in outcome.failed[0][1]
    assert api.get("Deployment", "web", "shop")["spec"]["replicas"] == 5  # type: ignore[index]


def test_live_read_and_drift_show_exactly_what_changed(
    api: KubeAPIServer, kube: Kubernetes
) -> None:
    render = manifests(namespace(), configmap(), service(), deployment(), cluster_role())
    kube.deploy({target(): render}, SOURCE)
    desired = {"shop/prod": render}
    live = kube.read([target()], desired)
    # server-set fields, defaults (clusterIP, revisionHistoryLimit), status and the bot's
    # labels are not drift
    assert drift(desired, live) == {"shop/prod": []}
    api.update(
        "Deployment", "web", "shop", lambda b: b["spec"].update(replicas=5), manager="kubectl-scale"
    )
    api.update(
        "ConfigMap",
        "web",
        "shop",
        lambda b: b["metadata"].setdefault("annotations", {}).update(note="x"),
    )
    diffs = drift(desired, kube.read([target()], desired))["shop/prod"]
    assert [(d.key.kind, d.status, d.changed_fields) for d in diffs] == [
        ("Deployment", DiffStatus.CHANGED, ("spec.replicas",))
    ]
    assert "-  replicas: 5" in diffs[0].diff and "+  replicas: 2" in diffs[0].diff


def test_live_read_shows_missing_and_live_only_objects(
    api: KubeAPIServer, kube: Kubernetes
) -> None:
    kube.deploy({target(): manifests(namespace(), configmap(), configmap("gone"))}, SOURCE)
    desired = {"shop/prod": manifests(namespace(), configmap(), configmap("new"))}
    diffs = drift(desired, kube.read([target()], desired))["shop/prod"]
    assert [(d.key.name, d.status) for d in diffs] == [
        ("new", DiffStatus.CREATED),
        ("gone", DiffStatus.DELETED),
    ]


def test_objects_without_namespace_land_in_the_target_namespace(
    api: KubeAPIServer, kube: Kubernetes
) -> None:
    bare = configmap()
    del bare["metadata"]["namespace"]
    tgt = target()
    tgt = type(tgt)(**{**tgt.__dict__, "namespace": "shop"})
    render = manifests(namespace(), bare)
    assert kube.deploy({tgt: render}, SOURCE).ok
    assert api.get("ConfigMap", "web", "shop") is not None
    assert drift({tgt.id: render}, kube.read([tgt], {tgt.id: render})) == {tgt.id: []}


def test_secret_changed_behind_the_back_is_masked(api: KubeAPIServer, kube: Kubernetes) -> None:
    render = manifests(namespace(), secret())
    kube.deploy({target(): render}, SOURCE)
    new_value = "rotated-by-hand-42"
    new_b64 = base64.b64encode(new_value.encode()).decode()
    api.update("Secret", "db", "shop", lambda b: b["data"].update(password=new_b64))
    diffs = drift({"shop/prod": render}, kube.read([target()], {"shop/prod": render}))
    [diff] = diffs["shop/prod"]
    assert diff.changed_fields == ("data.password",)
    assert "*** (before)" in diff.diff and "*** (after)" in diff.diff
    text = repr(diffs)
    for value in (SECRET_PLAIN, SECRET_B64, new_value, new_b64):
        assert value not in text


def test_owned_by_another_target_is_not_applied(api: KubeAPIServer, kube: Kubernetes) -> None:
    kube.deploy({target("billing"): manifests(namespace(), configmap())}, SOURCE)
    outcome = kube.deploy({target(): manifests(configmap())}, SOURCE)
    assert outcome.failed and "billing.prod" in outcome.failed[0][1]
    stored = api.get("ConfigMap", "web", "shop")
    assert (
        stored is not None
        and stored["metadata"]["labels"]["gitops-bot.dev/target"] == "billing.prod"
    )


def test_api_down_is_live_unavailable(api: KubeAPIServer, kube: Kubernetes) -> None:
    kube.deploy({target(): manifests(namespace())}, SOURCE)
    api.stop()
    with pytest.raises(LiveUnavailable) as info:
        kube.read([target()])
    assert "unreachable" in str(info.value) and isinstance(info.value, Transient)
    with pytest.raises(LiveUnavailable):
        kube.deploy({target(): manifests(namespace(), configmap())}, SOURCE)


@pytest.mark.parametrize(
    "user",
    [
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": "/bin/sh",
                "args": ["-c", "touch /tmp/gitops-bot-pwned"],
            }
        },
        {"auth-provider": {"name": "gcp", "config": {"cmd-path": "/bin/sh"}}},
    ],
)
def test_kubeconfig_with_credential_plugin_refused(
    api: KubeAPIServer, tmp_path: Path, tools: Tools, user: dict[str, Any]
) -> None:
    path = api.kubeconfig(tmp_path / "kubeconfig", extra_user=user)
    with pytest.raises(ConfigError) as info:
        Kubernetes(path, "test", kubectl=tools.kubectl)
    assert "refused" in str(info.value)
    assert api.requests == []


def test_unknown_context_refused(api: KubeAPIServer, tmp_path: Path, tools: Tools) -> None:
    with pytest.raises(ConfigError):
        Kubernetes(api.kubeconfig(tmp_path / "kc"), "--server=http://evil", kubectl=tools.kubectl)


def test_field_dropped_from_the_render_shows_through_managed_fields(
    api: KubeAPIServer, kube: Kubernetes
) -> None:
    kube.deploy({target(): manifests(namespace(), configmap(mode="prod", extra="1"))}, SOURCE)
    desired = {"shop/prod": manifests(namespace(), configmap(mode="prod"))}
    [diff] = drift(desired, kube.read([target()], desired))["shop/prod"]
    assert diff.changed_fields == ("data.extra",)
    kube.deploy({target(): desired["shop/prod"]}, SOURCE)  # apply removes the field it owned
    stored = api.get("ConfigMap", "web", "shop")
    assert stored is not None and stored["data"] == {"mode": "prod"}
