"""Object diffs: normalisation, matching by key, changed fields, Secrets never shown."""

from __future__ import annotations

import base64
import copy
from typing import Any

from bot.diff import LAST_APPLIED, diff_manifests, mask_secrets, normalize
from bot.model import DiffStatus, Manifest, ObjKey


def deployment(
    image: str = "shop/web:1.0", replicas: int = 2, api: str = "apps/v1", **meta: Any
) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", **meta},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, "ports": [{"containerPort": 8080}]}
                    ]
                }
            },
        },
    }


def secret(
    data: dict[str, str] | None = None,
    string_data: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "type": "Opaque",
    }
    if data is not None:
        body["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    if string_data is not None:
        body["stringData"] = string_data
    return body


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


# --- normalize -------------------------------------------------------------------------


def test_normalize_drops_server_fields_status_and_last_applied() -> None:
    live = deployment(
        creationTimestamp="2024-01-01T00:00:00Z",
        resourceVersion="123",
        uid="u-1",
        generation=4,
        managedFields=[{"manager": "kubectl"}],
        selfLink="/apis/x",
        annotations={LAST_APPLIED: '{"x": 1}'},
    )
    live["status"] = {"readyReplicas": 2}
    assert normalize(live) == normalize(deployment())
    assert "status" not in normalize(live)
    assert normalize(live)["metadata"] == {"name": "web", "namespace": "shop"}


def test_normalize_treats_empty_and_null_as_missing() -> None:
    rendered = deployment(creationTimestamp=None, labels={}, annotations=None)
    rendered["spec"]["template"]["metadata"] = {"creationTimestamp": None}
    rendered["spec"]["strategy"] = {}
    rendered["spec"]["template"]["spec"]["volumes"] = []
    assert normalize(rendered) == normalize(deployment())


def test_normalize_keeps_list_order_and_falsy_values_and_does_not_mutate() -> None:
    body = configmap("c")
    body["spec"] = {"items": ["b", "a"], "zero": 0, "off": False, "empty": ""}
    before = copy.deepcopy(body)
    out = normalize(body)
    assert out["spec"] == {"items": ["b", "a"], "zero": 0, "off": False, "empty": ""}
    assert body == before
    assert normalize({"kind": "X", "spec": {"l": ["b", "a"]}}) != normalize(
        {"kind": "X", "spec": {"l": ["a", "b"]}}
    )


# --- diff_manifests --------------------------------------------------------------------


def test_created_changed_deleted_unchanged() -> None:
    base = [
        Manifest(deployment(), "apps/shop/deploy.yaml", 1),
        Manifest(configmap("old", a="1"), "apps/shop/old.yaml", 1),
        Manifest(configmap("same", a="1"), "apps/shop/same.yaml", 1),
    ]
    head = [
        Manifest(deployment(image="shop/web:1.1", replicas=3), "apps/shop/deploy.yaml", 5),
        Manifest(configmap("same", a="1"), "apps/shop/same.yaml", 1),
        Manifest(configmap("new", a="1"), "apps/shop/new.yaml", 2),
    ]
    diffs = diff_manifests(base, head)
    assert [(d.status, d.key.name) for d in diffs] == [
        (DiffStatus.CREATED, "new"),
        (DiffStatus.CHANGED, "web"),
        (DiffStatus.DELETED, "old"),
        (DiffStatus.UNCHANGED, "same"),
    ]
    created, changed, deleted, unchanged = diffs
    assert changed.changed_fields == ("spec.replicas", "spec.template.spec.containers[0].image")
    assert (changed.file, changed.line) == ("apps/shop/deploy.yaml", 5)
    assert (deleted.file, deleted.line) == ("apps/shop/old.yaml", 1)
    assert (created.file, created.line) == ("apps/shop/new.yaml", 2)
    assert unchanged.diff == "" and unchanged.changed_fields == ()
    assert created.changed_fields == () and deleted.changed_fields == ()
    assert changed.diff.splitlines()[:2] == [
        "--- base/Deployment/shop/web",
        "+++ head/Deployment/shop/web",
    ]
    assert "-  replicas: 2\n+  replicas: 3" in changed.diff
    assert "-      - image: shop/web:1.0\n+      - image: shop/web:1.1" in changed.diff
    assert created.diff.startswith("--- /dev/null\n+++ head/ConfigMap/new\n")
    assert deleted.diff.startswith("--- base/ConfigMap/old\n+++ /dev/null\n")
    assert all(line.startswith("-") for line in deleted.diff.splitlines()[3:])


def test_changed_fields_added_removed_list_items_and_dotted_keys() -> None:
    before = deployment(labels={"app.kubernetes.io/name": "web", "tier": "front"})
    after = deployment(labels={"app.kubernetes.io/name": "shop", "team": "a"})
    after["spec"]["template"]["spec"]["containers"].append({"name": "proxy", "image": "p"})
    [d] = diff_manifests([Manifest(before)], [Manifest(after)])
    assert d.changed_fields == (
        'metadata.labels["app.kubernetes.io/name"]',
        "metadata.labels.team",
        "metadata.labels.tier",
        "spec.template.spec.containers[1]",
    )


def test_server_side_noise_is_unchanged() -> None:
    live = deployment(resourceVersion="9", uid="x", annotations={LAST_APPLIED: "{}"})
    live["status"] = {"replicas": 2}
    [d] = diff_manifests([Manifest(live)], [Manifest(deployment())])
    assert d.status is DiffStatus.UNCHANGED and d.diff == ""


def test_key_matching_ignores_api_version() -> None:
    [d] = diff_manifests(
        [Manifest(deployment(api="apps/v1beta1"))], [Manifest(deployment(api="apps/v1"))]
    )
    assert d.status is DiffStatus.CHANGED
    assert d.key == ObjKey("apps", "Deployment", "shop", "web")
    assert d.changed_fields == ("apiVersion",)
    assert "-apiVersion: apps/v1beta1\n+apiVersion: apps/v1" in d.diff


def test_context_lines() -> None:
    [d] = diff_manifests([Manifest(deployment())], [Manifest(deployment(replicas=9))], context=0)
    assert [line for line in d.diff.splitlines() if line.startswith(" ")] == []


# --- Secrets ---------------------------------------------------------------------------

PLAIN = {
    "unchanged": "S3cr3t-Unchanged-Value",
    "changed": "S3cr3t-Before-Value",
    "removed": "S3cr3t-Removed-Value",
}
PLAIN_AFTER = {
    "unchanged": "S3cr3t-Unchanged-Value",
    "changed": "S3cr3t-After-Value",
    "added": "S3cr3t-Added-Value",
}
ALL_VALUES = {
    *PLAIN.values(),
    *PLAIN_AFTER.values(),
    "StringData-Before-pw",
    "StringData-After-pw",
    "StringData-Same-token",
}


def _forbidden() -> set[str]:
    # Plain and base64 forms (and the base64 of the base64, in case something re-encodes).
    out: set[str] = set()
    for value in ALL_VALUES:
        b64 = base64.b64encode(value.encode()).decode()
        out |= {value, b64, b64.rstrip("="), base64.b64encode(b64.encode()).decode()}
    return out


def _secret_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    before = secret(PLAIN, {"pw": "StringData-Before-pw", "token": "StringData-Same-token"})
    after = secret(PLAIN_AFTER, {"pw": "StringData-After-pw", "token": "StringData-Same-token"})
    after["metadata"]["annotations"] = {LAST_APPLIED: str(after)}
    return before, after


def test_secret_values_never_appear_in_diff_or_fields() -> None:
    before, after = _secret_pair()
    diffs = diff_manifests([Manifest(before)], [Manifest(after)])
    diffs += diff_manifests([], [Manifest(after)]) + diff_manifests([Manifest(before)], [])
    output = "\n".join(d.diff + "\n" + "\n".join(d.changed_fields) for d in diffs)
    for value in _forbidden():
        assert value not in output, value
    changed = diffs[0]
    assert changed.changed_fields == ("data.added", "data.changed", "data.removed", "stringData.pw")
    lines = changed.diff.splitlines()
    for line in (
        "-  changed: '*** (before)'",
        "+  changed: '*** (after)'",
        "+  added: '***'",
        "-  removed: '***'",
        "   unchanged: '***'",
        "   token: '***'",
        "-  pw: '*** (before)'",
        "+  pw: '*** (after)'",
    ):
        assert line in lines, line


def test_secret_with_only_unchanged_values_is_unchanged() -> None:
    before, _ = _secret_pair()
    [d] = diff_manifests([Manifest(before)], [Manifest(copy.deepcopy(before))])
    assert d.status is DiffStatus.UNCHANGED and d.diff == ""


def test_mask_secrets_markers_and_last_applied() -> None:
    before, after = _secret_pair()
    mb, ma = mask_secrets(before, after)
    assert mb is not None and ma is not None
    assert mb["data"] == {"unchanged": "***", "changed": "*** (before)", "removed": "***"}
    assert ma["data"] == {"unchanged": "***", "changed": "*** (after)", "added": "***"}
    assert ma["stringData"] == {"pw": "*** (after)", "token": "***"}
    assert ma["metadata"]["annotations"][LAST_APPLIED] == "***"
    assert before["data"]["changed"] != "*** (before)", "input must not be modified"
    assert mask_secrets(None, None) == (None, None)


def test_mask_secrets_any_api_version_lists_and_odd_shapes() -> None:
    odd = {"apiVersion": "v1beta", "kind": "Secret", "data": "S3cr3t-Unchanged-Value"}
    assert mask_secrets(odd, None)[0] == {"apiVersion": "v1beta", "kind": "Secret", "data": "***"}
    listed = {"apiVersion": "v1", "kind": "List", "items": [secret({"k": "S3cr3t-Added-Value"})]}
    masked = mask_secrets(listed, None)[0]
    assert masked is not None and masked["items"][0]["data"] == {"k": "***"}


def test_sealed_secrets_and_configmaps_are_shown() -> None:
    sealed = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "db"},
        "spec": {"encryptedData": {"pw": "AgBy3i4OJSWK+PiTy"}},
    }
    [d] = diff_manifests(
        [],
        [
            Manifest(sealed),
        ],
    )
    assert "AgBy3i4OJSWK+PiTy" in d.diff
    [c] = diff_manifests([], [Manifest(configmap("c", a="visible"))])
    assert "visible" in c.diff


def test_every_field_of_a_secret_but_its_identity_is_a_value() -> None:
    """A misspelled section, lists, numbers and odd metadata are masked like `data`."""
    before: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "secret",
        "type": "Opaque",
        "metadata": {
            "name": "s",
            "namespace": "n",
            "labels": {"a": "b"},
            "clusterName": "MetaValue-1234",
        },
        "stringdata": {"api": "Misspelled-Value-1"},
        "extra": ["List-Value-12", 42],
    }
    after = copy.deepcopy(before)
    after["stringdata"]["api"] = "Misspelled-Value-2"
    [d] = diff_manifests([Manifest(before)], [Manifest(after)], context=50)
    for value in ("MetaValue-1234", "Misspelled-Value", "List-Value-12", "42"):
        assert value not in d.diff, value
    assert "-  api: '*** (before)'" in d.diff.splitlines()
    assert "    a: b" in d.diff and "name: s" in d.diff and "type: Opaque" in d.diff
    assert d.changed_fields == ("stringdata.api",)
