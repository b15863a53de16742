"""Subtree diffs of large objects: one hunk per changed subtree, nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot import treediff
from bot.diff import _yaml_any, changed_fields, diff_manifests, normalize
from bot.model import DiffStatus, Manifest

CRDS = Path(__file__).parent / "fixtures" / "corpus" / "argoproj--argo-cd"


def _big(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props = {
        f"field{i}": {"type": "string", "description": f"the field number {i}"} for i in range(800)
    }
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big", "labels": {"a": "1"}},
        "data": props,
        "items": [f"item{i}" for i in range(500)],
    }
    body.update(extra or {})
    return body


def test_each_changed_subtree_is_one_hunk_headed_by_its_path() -> None:
    before = _big()
    after = _big()
    after["data"] = dict(
        after["data"], field7={"type": "integer", "description": "the field number 7"}
    )
    after["metadata"] = {"name": "big", "labels": {"a": "2", "app.kubernetes.io/name": "x"}}
    after["items"] = before["items"][:10] + ["new"] + before["items"][10:]
    assert treediff.is_large(before, after)
    lines = treediff.hunks(before, after, _yaml_any)
    assert lines == [
        "@@ data.field7.type @@",
        "-type: string",
        "+type: integer",
        "@@ items[10:10] @@",
        "+- new",
        "@@ metadata.labels.a @@",
        "-a: '1'",
        "+a: '2'",
        '@@ metadata.labels["app.kubernetes.io/name"] @@',
        "+app.kubernetes.io/name: x",
    ]


def test_equal_objects_have_no_hunk_and_removed_keys_show_their_value() -> None:
    before = _big({"spec": {"keep": 1, "drop": {"deep": [1, 2]}}})
    after = _big({"spec": {"keep": 1}})
    assert treediff.hunks(before, dict(before), _yaml_any) == []
    assert treediff.hunks(before, after, _yaml_any) == [
        "@@ spec.drop @@",
        "-drop:",
        "-  deep:",
        "-  - 1",
        "-  - 2",
    ]


def test_a_real_crd_upgrade_is_diffed_by_subtree_and_covers_every_changed_field() -> None:
    def crd(version: str) -> dict[str, Any]:
        text = (CRDS / version / "manifests/crds/application-crd.yaml").read_text()
        return normalize(yaml.load(text, Loader=yaml.CSafeLoader))

    before, after = crd("v3.4.7"), crd("v3.5.1")
    diff = diff_manifests([Manifest(before)], [Manifest(after)])[0]
    assert diff.status is DiffStatus.CHANGED
    lines = diff.diff.splitlines()
    assert lines[:2] == [
        "--- base/CustomResourceDefinition/applications.argoproj.io",
        "+++ head/CustomResourceDefinition/applications.argoproj.io",
    ]
    headers = [line[3:-3] for line in lines if line.startswith("@@ ")]
    assert headers and all(line[:1] in "-+@" for line in lines[2:])
    # every changed field lies in (or under) a hunk, and every hunk holds a change
    for field in changed_fields(before, after):
        assert any(
            field == h
            or field.startswith((h + ".", h + "["))
            or h.startswith((field + ".", field + "["))
            or "[" in h
            and field.startswith(h.rsplit("[", 1)[0])
            for h in headers
        ), field
    assert len(lines) < 5000  # only the changed parts, not the 20,000-line object


def test_small_objects_keep_the_line_diff() -> None:
    before = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a"},
        "data": {"k": "1"},
    }
    after = dict(before, data={"k": "2"})
    diff = diff_manifests([Manifest(before)], [Manifest(after)])[0]
    assert "@@ -" in diff.diff and "-  k: '1'" in diff.diff and "+  k: '2'" in diff.diff
