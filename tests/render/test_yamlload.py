"""load_manifests: multi-document streams, lines, Lists and every refusal of hostile YAML."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bot.model import Severity
from bot.render.sandbox import Budgets
from bot.render.yamlload import load_manifests

B = Budgets()


def messages(findings: list[Any]) -> list[str]:
    return [f"{f.line}:{f.message}" for f in findings]


def test_multi_document_stream_with_empty_and_null_documents_keeps_lines() -> None:
    data = b"""# leading comment
---
---
null
---
~
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
  creationTimestamp: 2024-01-01
---
# only a comment
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: second, namespace: shop}
"""
    objs, findings = load_manifests(data, "apps/shop/all.yaml", B)
    assert findings == []
    assert [(o.kind, o.key.name, o.file, o.line) for o in objs] == [
        ("ConfigMap", "first", "apps/shop/all.yaml", 8),
        ("Deployment", "second", "apps/shop/all.yaml", 16),
    ]
    assert objs[0].body["metadata"]["creationTimestamp"] == "2024-01-01"  # not a datetime


def test_kind_list_is_unwrapped_with_the_line_of_each_item() -> None:
    data = b"""apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: b}
---
apiVersion: v1
kind: ConfigMapList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c}
"""
    objs, findings = load_manifests(data, "l.yaml", B)
    assert findings == []
    assert [(o.kind, o.key.name, o.line) for o in objs] == [
        ("Service", "a", 4),
        ("ConfigMap", "b", 7),
        ("ConfigMap", "c", 14),
    ]


def test_documents_that_are_not_objects_are_errors_with_lines_not_crashes() -> None:
    data = b"""apiVersion: v1
kind: ConfigMap
metadata: {name: ok}
---
just a string
---
- a
- list
---
metadata: {name: no-kind-no-version}
---
apiVersion: v1
kind: List
items:
- kind: Secret
"""
    objs, findings = load_manifests(data, "x.yaml", B)
    assert [o.key.name for o in objs] == ["ok"]
    assert all(f.severity is Severity.ERROR and f.file == "x.yaml" for f in findings)
    got = messages(findings)
    assert got[0].startswith("5:document is a str")
    assert got[1].startswith("7:document is a list")
    assert got[2] == "10:object has no apiVersion or kind"
    assert got[3] == "15:object has no apiVersion"


def test_duplicate_keys_at_any_depth_are_named_with_their_line() -> None:
    data = b"""apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  labels:
    app: x
    app: y
data: {}
data: {}
"""
    objs, findings = load_manifests(data, "dup.yaml", B)
    assert objs == []
    assert messages(findings) == [
        "7:duplicate key 'app' at line 7",
        "9:duplicate key 'data' at line 9",
    ]


def test_python_tags_are_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
        f'data:\n  a: !!python/object/apply:os.system ["touch {marker}"]\n'
        f'---\n!!python/object/new:os.system ["touch {marker}"]\n'
        f"---\napiVersion: v1\nkind: X\nmetadata: !custom {{name: y}}\n"
    ).encode()
    objs, findings = load_manifests(data, "evil.yaml", B)
    assert objs == []
    assert not marker.exists()
    got = messages(findings)
    assert (
        got[0] == "6:unsupported YAML tag !!python/object/apply:os.system; only plain "
        "data is allowed"
    )
    assert got[1].startswith("8:unsupported YAML tag !!python/object/new:os.system")
    assert got[2].startswith("12:unsupported YAML tag !custom")


def test_billion_laughs_is_refused_before_construction_quickly() -> None:
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        levels.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    data = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n"
        + "".join(f"  {line}\n" for line in levels)
    ).encode()
    started = time.monotonic()
    objs, findings = load_manifests(data, "bomb.yaml", B)
    assert time.monotonic() - started < 1.0
    assert objs == []
    assert len(findings) == 1 and "expands to more than 1000000 nodes" in findings[0].message


def test_alias_budget_counts_aliases_at_full_size() -> None:
    data = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
        b"data:\n  a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n  b: [*a, *a, *a, *a]\n"
    )
    assert load_manifests(data, "f.yaml", Budgets(max_yaml_nodes=70))[1] == []
    # 28 nodes if aliases were counted once
    _, findings = load_manifests(data, "f.yaml", Budgets(max_yaml_nodes=50))
    assert "expands to more than" in findings[0].message


def test_recursive_alias_is_refused() -> None:
    objs, findings = load_manifests(b"a: &x [1, *x]\n", "r.yaml", B)
    assert objs == [] and "recursive YAML alias" in findings[0].message


def test_syntax_error_names_the_line() -> None:
    objs, findings = load_manifests(b"apiVersion: v1\nkind: [A\nmetadata: x\n", "s.yaml", B)
    assert objs == []
    assert findings[0].message.startswith("YAML syntax error:")
    assert findings[0].line == 3 and findings[0].file == "s.yaml"


def test_oversized_input_is_refused_without_parsing() -> None:
    data = b"apiVersion: v1\nkind: ConfigMap\n" + b"#" * 2000
    objs, findings = load_manifests(data, "big.yaml", Budgets(max_file_bytes=1000))
    assert objs == [] and "too large" in findings[0].message


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    objs, findings = load_manifests(b"a: " + b"[" * 100_000, "deep.yaml", B)
    assert objs == [] and findings and findings[0].severity is Severity.ERROR
