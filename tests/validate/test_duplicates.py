"""duplicate_findings: the same group/kind/namespace/name twice is an error naming both places."""
from __future__ import annotations

from bot.model import Manifest, ObjKey, Severity
from bot.validate import duplicate_findings


def cm(name: str, namespace: str | None = None, api: str = "v1", kind: str = "ConfigMap",
       file: str = "a.yaml", line: int = 1) -> Manifest:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return Manifest({"apiVersion": api, "kind": kind, "metadata": meta}, file, line)


def test_no_duplicates_no_findings() -> None:
    assert duplicate_findings([cm("a"), cm("b"), cm("a", "other"), cm("a", kind="Secret")]) == []


def test_duplicate_names_both_locations() -> None:
    [found] = duplicate_findings([cm("a", "ns", file="base/a.yaml", line=3), cm("b"),
                                  cm("a", "ns", file="overlay/b.yaml", line=12)])
    assert found.severity is Severity.ERROR and found.check == "validate"
    assert (found.file, found.line) == ("overlay/b.yaml", 12)
    assert found.object == ObjKey("", "ConfigMap", "ns", "a")
    assert "ConfigMap/ns/a is defined more than once: at base/a.yaml:3 and at " \
           "overlay/b.yaml:12" in found.message


def test_api_version_is_not_identity_but_group_is() -> None:
    dep = cm("web", "shop", api="apps/v1", kind="Deployment", file="x.yaml", line=1)
    old = cm("web", "shop", api="apps/v1beta2", kind="Deployment", file="y.yaml", line=5)
    other_group = cm("web", "shop", api="example.com/v1", kind="Deployment")
    [found] = duplicate_findings([dep, old, other_group])
    assert "(apps)" in found.message and found.file == "y.yaml"


def test_each_repeat_is_reported_and_nameless_objects_are_left_alone() -> None:
    nameless = Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "n.yaml", 1)
    found = duplicate_findings([cm("a"), cm("a", line=5), cm("a", line=9), nameless, nameless])
    assert [f.line for f in found] == [5, 9]
    assert all("at a.yaml:1 and" in f.message for f in found)
