"""Values a renderer makes up on every render are marked, not diffed (bot.volatile)."""

from __future__ import annotations

from typing import Any

from bot.diff import diff_manifests
from bot.model import DiffStatus, Manifest
from bot.volatile import MARK, steady


def secret(password: str, extra: dict[str, Any] | None = None) -> Manifest:
    return Manifest(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "grafana", "namespace": "mon"},
            "data": {"admin-user": "YWRtaW4=", "admin-password": password, **(extra or {})},
        },
        "helm:charts/grafana/templates/secret.yaml",
        1,
    )


def deploy(checksum: str, image: str) -> Manifest:
    return Manifest(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "grafana", "namespace": "mon"},
            "spec": {
                "template": {
                    "metadata": {"annotations": {"checksum/secret": checksum}},
                    "spec": {"containers": [{"name": "g", "image": image}]},
                }
            },
        },
        "helm:charts/grafana/templates/deployment.yaml",
        1,
    )


def test_values_that_differ_between_two_renders_are_not_a_change() -> None:
    before = [secret("cGFzczE="), deploy("aaa", "grafana:11.0")]
    after = [secret("cGFzczI="), deploy("bbb", "grafana:11.0")]
    again = [secret("cGFzczM="), deploy("ccc", "grafana:11.0")]
    b, a = steady(before, after, again, [secret("cGFzczQ="), deploy("ddd", "grafana:11.0")])
    assert a[0].body["data"]["admin-password"] == MARK == b[0].body["data"]["admin-password"]
    assert a[0].body["data"]["admin-user"] == "YWRtaW4="
    assert [d.status for d in diff_manifests(b, a)] == [DiffStatus.UNCHANGED] * 2
    assert before[0].body["data"]["admin-password"] == "cGFzczE="  # the renders are untouched


def test_a_real_change_beside_a_random_value_is_shown_alone() -> None:
    before = [deploy("aaa", "grafana:11.0")]
    after, again = [deploy("bbb", "grafana:11.1")], [deploy("ccc", "grafana:11.1")]
    [d] = diff_manifests(*steady(before, after, again, [deploy("zzz", "grafana:11.0")]))
    assert d.status is DiffStatus.CHANGED
    assert d.changed_fields == ("spec.template.spec.containers[0].image",)
    assert "checksum" not in "".join(
        line for line in d.diff.splitlines() if line.startswith(("+", "-")) and line[1:2] == " "
    )


def test_a_deterministic_render_is_left_as_it_is() -> None:
    objs = [deploy("aaa", "grafana:11.0")]
    assert steady(objs, objs, objs, objs) == (objs, objs)


def test_a_random_value_of_one_side_only_reads_as_was_random_now_this() -> None:
    # the change sets a fixed password: the head renders the same twice, the base did not
    before, before_again = [deploy("aaa", "g:1")], [deploy("bbb", "g:1")]
    after = [deploy("fixed", "g:1")]
    b, a = steady(before, after, after, before_again)
    assert b[0].body["spec"]["template"]["metadata"]["annotations"]["checksum/secret"] == MARK
    assert a[0].body["spec"]["template"]["metadata"]["annotations"]["checksum/secret"] == "fixed"
    [d] = diff_manifests(b, a)
    assert f"-        checksum/secret: {MARK}\n+        checksum/secret: fixed" in d.diff
