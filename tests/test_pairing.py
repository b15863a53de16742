"""Renames, hash-suffixed generated objects, random names and generateName: read as one
object, not as a create and a delete (bot.pairing, bot.diff)."""

from __future__ import annotations

from typing import Any

from bot.diff import diff_manifests, normalize
from bot.model import DiffStatus, Manifest, ObjKey
from bot.pairing import pair_renames, stem


def cm(name: str, data: dict[str, str], ns: str = "shop") -> Manifest:
    return Manifest(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns},
            "data": data,
        },
        "apps/shop/kustomization.yaml",
        None,
    )


def pod(name: str, image: str = "busybox:1.36", **meta: Any) -> Manifest:
    return Manifest(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", **meta},
            "spec": {"containers": [{"name": "t", "image": image}]},
        },
        "helm:charts/web/templates/tests/test.yaml",
        None,
    )


def test_generated_suffixes_are_recognised_and_names_are_not() -> None:
    assert stem("redis-config-bd2fcfgt6k") == ("redis-config-", 10)
    assert stem("web-test-Xk8pQ") == ("web-test-", 5)
    assert stem("web-frontend") is None
    assert stem("web") is None


def test_a_hash_suffixed_generated_configmap_is_one_renamed_entry_with_its_diff() -> None:
    before = [cm("redis-config-bd2fcfgt6k", {"redis.conf": "maxmemory 64mb\n"})]
    after = [cm("redis-config-7tm4k8g2h9", {"redis.conf": "maxmemory 128mb\n"})]
    pairs = pair_renames(before, after, normalize)
    assert pairs == {after[0].key: before[0].key}
    [d] = diff_manifests(before, after, renames=pairs)
    assert (d.status, d.key.name, d.renamed_from) == (
        DiffStatus.CHANGED,
        "redis-config-7tm4k8g2h9",
        before[0].key,
    )
    # multi-line strings are `|` block scalars: the changed line of the file is one line
    assert "\n   redis.conf: |\n-    maxmemory 64mb\n+    maxmemory 128mb\n" in d.diff
    assert d.diff.startswith(
        "--- base/ConfigMap/shop/redis-config-bd2fcfgt6k\n"
        "+++ head/ConfigMap/shop/redis-config-7tm4k8g2h9\n"
    )
    assert d.changed_fields == ('data["redis.conf"]', "metadata.name")


def test_a_random_name_with_the_same_content_is_unchanged() -> None:
    for old, new in (("web-test-Xk8pQ", "web-test-7hQ2m"), ("web-test-abcde", "web-test-qwxyz")):
        before, after = [pod(old)], [pod(new)]
        pairs = pair_renames(before, after, normalize)
        [d] = diff_manifests(before, after, renames=pairs)
        assert (d.status, d.diff, d.renamed_from) == (DiffStatus.UNCHANGED, "", before[0].key)


def test_a_plain_rename_of_an_identical_object_is_one_changed_entry() -> None:
    before = [cm("the-map", {"a": "1"})]
    after = [cm("the-config", {"a": "1"})]
    pairs = pair_renames(before, after, normalize)
    [d] = diff_manifests(before, after, renames=pairs)
    assert (d.status, d.renamed_from, d.changed_fields) == (
        DiffStatus.CHANGED,
        before[0].key,
        ("metadata.name",),
    )


def test_unrelated_objects_are_not_paired() -> None:
    before = [cm("the-map", {"a": "1"}), cm("other", {"a": "1"}, ns="elsewhere")]
    after = [cm("the-config", {"a": "2"}), cm("x", {"a": "1"}, ns="third")]
    assert pair_renames(before, after, normalize) == {}
    statuses = sorted(d.status.value for d in diff_manifests(before, after))
    assert statuses == ["created", "created", "deleted", "deleted"]


def test_without_pairs_the_diff_is_what_kubernetes_sees() -> None:
    before, after = [pod("web-test-Xk8pQ")], [pod("web-test-7hQ2m")]
    assert [d.status for d in diff_manifests(before, after)] == [
        DiffStatus.CREATED,
        DiffStatus.DELETED,
    ]


def test_generate_name_identity_is_the_prefix_and_a_content_hash() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"generateName": "migrate-", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}},
    }
    key = ObjKey.of(job)
    assert key.name.startswith("migrate-~") and len(key.name) == len("migrate-~") + 8
    assert ObjKey.of(dict(job)) == key  # the same object renders to the same identity
    changed = {
        **job,
        "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "m:2"}]}}},
    }
    assert ObjKey.of(changed) != key
    # diffed by that identity: a changed hook Job reads as one changed entry
    before, after = [Manifest(job, "j.yaml", 1)], [Manifest(changed, "j.yaml", 1)]
    [d] = diff_manifests(before, after, renames=pair_renames(before, after, normalize))
    assert d.status is DiffStatus.CHANGED and d.renamed_from == key
    assert "image: m:2" in d.diff
