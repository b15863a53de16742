"""YAML is read as Kubernetes reads it, not as PyYAML's YAML 1.1 resolver reads it.

kubectl and the API server turn YAML into JSON with sigs.k8s.io/yaml, which decodes with
go-yaml v2 (its resolve table: booleans y/yes/on..., Go's strconv.ParseInt with base 0 and
ParseFloat; merges applied in document order in decode.go `mapping`). Each row states what
Kubernetes makes of a scalar where PyYAML differs, and the bot must agree with Kubernetes.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml

from bot.model import Severity
from bot.render.sandbox import Budgets
from bot.render.yamlload import load_manifests
from bot.repo.safeyaml import load_one
from tests.corpus_changes import CORPUS

# (YAML value, what Kubernetes gets, why) — each differs from yaml.safe_load's answer.
SCALARS: list[tuple[str, Any, str]] = [
    ("=", "=", "YAML 1.1 `value` key type; go-yaml has no such type: a string (PyYAML fails)"),
    ("y", True, "go-yaml's bool table has y/Y/n/N (PyYAML: string)"),
    ("N", False, "go-yaml's bool table has y/Y/n/N (PyYAML: string)"),
    ("0o17", 15, "strconv.ParseInt base 0 knows the 0o prefix (PyYAML: string)"),
    ("08", 8, "not octal, so ParseInt fails and the float pattern matches: 8 (PyYAML: string)"),
    ("1e3", 1000, "go-yaml's float pattern needs no dot or exponent sign (PyYAML: string)"),
    ("1:30", "1:30", "base-60 numbers are not supported by go-yaml: a string (PyYAML: 90)"),
    ("190:20:30.15", "190:20:30.15", "no base-60 floats either (PyYAML: 685230.15)"),
    ("1.0", 1, "a whole float is written to JSON without a fraction (PyYAML: 1.0)"),
    ("0b_1_0", 2, "go-yaml removes `_` before parsing (PyYAML: 2 too, kept as a control)"),
]
# Where PyYAML and Kubernetes agree: kept, so the resolver change breaks none of them.
SAME: list[tuple[str, Any]] = [
    ("yes", True),
    ("No", False),
    ("on", True),
    ("OFF", False),
    ("true", True),
    ("0777", 511),
    ("0x1F", 31),
    ("-0b11", -3),
    ("1_000", 1000),
    ("+12", 12),
    (".5", 0.5),
    ("-.inf", -math.inf),
    ("~", None),
    ("null", None),
    ("", None),
    ("2001-12-14", "2001-12-14"),  # a timestamp stays the string Kubernetes sees
    ("1.5", 1.5),
    ("x1", "x1"),
    ("--", "--"),
    (".", "."),
    ("0x", "0x"),
    ("1_a", "1_a"),
]


def value_of(scalar: str) -> Any:
    data = load_one(f"v: {scalar}\n".encode())
    assert isinstance(data, dict), scalar
    return data["v"]


@pytest.mark.parametrize(("scalar", "kubernetes", "why"), SCALARS, ids=[s for s, _, _ in SCALARS])
def test_scalar_resolves_as_kubernetes_resolves_it(scalar: str, kubernetes: Any, why: str) -> None:
    got = value_of(scalar)
    assert got == kubernetes and type(got) is type(kubernetes), why


@pytest.mark.parametrize(("scalar", "expected"), SAME, ids=[s or "empty" for s, _ in SAME])
def test_scalars_both_agree_on_are_unchanged(scalar: str, expected: Any) -> None:
    got = value_of(scalar)
    assert got == expected and type(got) is type(expected)


def test_pyyaml_really_differs_on_every_row() -> None:
    """The table is not vacuous: PyYAML's own answer differs from Kubernetes' on each row
    (or PyYAML refuses the document)."""
    for scalar, kubernetes, _ in SCALARS:
        if scalar == "0b_1_0":
            continue  # the control row
        try:
            pyyaml = yaml.safe_load(f"v: {scalar}\n")["v"]
        except yaml.YAMLError:
            continue
        assert pyyaml != kubernetes or type(pyyaml) is not type(kubernetes), scalar


def test_merge_keys_apply_in_document_order_as_go_yaml_does() -> None:
    # go-yaml v2 sets merged keys when it meets `<<`: a key written before the merge is
    # overridden by it, one written after wins; of a list of maps, the first map wins.
    # (YAML 1.1 and PyYAML: explicit keys always win.)
    data = load_one(b"""base: &b {a: 1, b: 2}
before: {a: 0, <<: *b}
after: {<<: *b, a: 0}
list: {<<: [{a: 1}, {a: 2, c: 3}]}
nested: {<<: {<<: *b, c: 3}}
""")
    assert data["before"] == {"a": 1, "b": 2}
    assert data["after"] == {"a": 0, "b": 2}
    assert data["list"] == {"a": 1, "c": 3}
    assert data["nested"] == {"a": 1, "b": 2, "c": 3}
    assert yaml.safe_load("base: &b {a: 1}\nbefore: {a: 0, <<: *b}\n")["before"] == {"a": 0}


def test_keys_become_the_strings_json_carries() -> None:
    # sigs.k8s.io/yaml converts bool, int and float keys to JSON strings ("true", "1").
    assert load_one(b"on: a\n1: b\n1.5: c\n") == {"true": "a", "1": "b", "1.5": "c"}


def test_merge_of_a_scalar_is_an_error_with_its_line_not_a_crash() -> None:
    objs, findings = load_manifests(
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: 3\n", "cm.yaml", Budgets()
    )
    assert objs == []
    assert [(f.severity, f.file, f.line) for f in findings] == [(Severity.ERROR, "cm.yaml", 4)]
    assert "map merge requires a map" in findings[0].message


def test_duplicate_keys_stay_an_error() -> None:
    # Strict field validation (kubectl --validate=strict, the default) rejects them.
    objs, findings = load_manifests(
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: 1, k: 2}\n",
        "cm.yaml",
        Budgets(),
    )
    assert objs == [] and "duplicate key 'k'" in findings[0].message


def test_prometheus_operator_crds_with_a_bare_equals_load() -> None:
    # Issue 10: `- =` in an enum made every prometheus-operator CRD unloadable, so the
    # kube-prometheus-stack target rendered 0 objects.
    crds = (
        CORPUS
        / "prometheus-community--helm-charts"
        / "charts/kube-prometheus-stack"
        / "charts/crds/crds"
    )
    files = sorted(crds.glob("crd-*.yaml"))
    assert len(files) == 10
    loaded = []
    for path in files:
        objs, findings = load_manifests(
            path.read_bytes(), path.name, Budgets(max_file_bytes=8 << 20)
        )
        assert findings == [], f"{path.name}: {findings[:1]}"
        loaded += objs
    assert {o.kind for o in loaded} == {"CustomResourceDefinition"}
    operators = loaded[0].body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert "=" in str(operators)
