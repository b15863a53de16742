"""The first line of each document of a manifest file, read without a YAML parser."""

from __future__ import annotations

import pytest

from bot.render.doc_lines import document_starts, line_of

FILE = """\
# a header comment
---
apiVersion: v1
kind: Secret
metadata:
  labels:
    name: not-the-name
  name: "mysql-pass"   # quoted, with a comment
data:
  password: eA==
--- # the next one
apiVersion: apps/v1
kind: Deployment
metadata: {name: flow-style}
---

apiVersion: v1
kind: Service
metadata:
    name: mysql
spec:
  ports:
  - name: http
    port: 80
---
kind: ConfigMap
metadata:
  name: twin
---
kind: ConfigMap
metadata:
  name: twin
"""


def test_each_document_names_its_kind_name_and_first_line() -> None:
    assert [(d.line, d.kind, d.name) for d in document_starts(FILE)] == [
        (3, "Secret", "mysql-pass"),
        (17, "Service", "mysql"),
        (26, "ConfigMap", "twin"),
        (30, "ConfigMap", "twin"),
    ]


@pytest.mark.parametrize(
    ("kind", "built", "line"),
    [
        ("Secret", "mysql-pass", 3),
        ("Secret", "demo-mysql-pass", 3),  # namePrefix
        ("Service", "mysql-v2", 17),  # nameSuffix
        ("Service", "postgres", None),  # no such document
        ("Deployment", "flow-style", None),  # flow style: no line, never a wrong one
        ("ConfigMap", "twin", None),  # two documents match: none
        ("Secret", "mysql", None),  # a prefix of the name is not a match
    ],
)
def test_a_built_object_maps_to_one_document_or_none(kind: str, built: str, line: int) -> None:
    assert line_of(document_starts(FILE), kind, built) == line


def test_a_file_without_documents_has_none() -> None:
    assert document_starts("") == ()
    assert document_starts("- a\n- b\n") == ()
