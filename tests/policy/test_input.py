"""The change input document: schema, approvals that count, approval requirements."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import jsonschema

from bot.model import DiffStatus, Finding, ObjectDiff, ObjKey, Severity, State, Target, TargetResult
from bot.policy import (
    ChangeInfo,
    EmbeddedEngine,
    Review,
    approving_reviews,
    build_change_input,
    load_policy_set,
)
from bot.policy.policyset import policy_set_from_files
from tests.policy.samples import DEFAULT_POLICIES, PVC_DELETED, ROOT, target_result

SCHEMA = json.loads((ROOT / "bot" / "schemas" / "policy-input.schema.json").read_text())
HEAD, OLD = "h" * 40, "o" * 40
CHANGE = ChangeInfo(
    "alice", "b" * 40, HEAD, labels=("z", "a"), changed_files=("b.yaml",), number=7, title="t"
)


def test_input_matches_schema_and_example() -> None:
    result = target_result(
        "shop", "production", [("apps", "Deployment", "web", DiffStatus.CHANGED)], State.WARNING
    )
    result = type(result)(
        result.target,
        result.state,
        result.diffs,
        (Finding(Severity.WARNING, "validate", "m", "f.yaml", 2, result.diffs[0].key, "r"),),
    )
    doc = build_change_input([result], CHANGE, [Review("bob", "APPROVED", HEAD, ("web",))])
    jsonschema.validate(doc, SCHEMA)
    assert doc["change"]["labels"] == ["a", "z"]
    assert doc["targets"][0]["objects"] == [
        {
            "group": "apps",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
            "status": "changed",
            "changed_fields": ["spec"],
            "file": "apps/shop/production/web.yaml",
            "line": 1,
        }
    ]
    assert doc["targets"][0]["findings"][0]["object"] == "Deployment/shop/web"
    assert doc["targets"][0]["state"] == "warning"
    readme = (ROOT / "bot" / "policy" / "README.md").read_text()
    example = readme.split("```json\n", 1)[1].split("```", 1)[0]
    jsonschema.validate(json.loads(example.replace("...", "")), SCHEMA)


def test_only_head_approvals_by_others_count() -> None:
    reviews = [
        Review("alice", "APPROVED", HEAD, ("platform",)),  # the author: never counts
        Review("bob", "APPROVED", OLD, ("platform",)),  # stale: lapsed on push
        Review("carol", "APPROVED", HEAD, ()),
        Review("carol", "CHANGES_REQUESTED", HEAD, ()),  # later review wins
        Review("dave", "APPROVED", HEAD, ("platform",)),
        Review("dave", "COMMENTED", HEAD, ("platform",)),  # a comment keeps approval
        Review("erin", "CHANGES_REQUESTED", HEAD, ()),
        Review("erin", "APPROVED", HEAD, ("sec",)),
    ]
    assert [r.user for r in approving_reviews(reviews, CHANGE)] == ["dave", "erin"]
    doc = build_change_input([], CHANGE, reviews)
    assert [r["user"] for r in doc["reviews"]] == ["dave", "erin"]


def test_approval_requirements_list_who_satisfies_them(embedded: EmbeddedEngine) -> None:
    ps = load_policy_set(DEFAULT_POLICIES, "server")
    targets = [
        dataclasses.replace(
            target_result(
                "shop",
                "production",
                [
                    ("apps", "Deployment", "web", DiffStatus.CHANGED),
                    ("", "PersistentVolumeClaim", "data", DiffStatus.DELETED),
                ],
            ),
            dangers=(PVC_DELETED,),
        )
    ]
    reviews = [
        Review("alice", "APPROVED", HEAD, ("platform",)),
        Review("bob", "APPROVED", HEAD, ("platform",)),
        Review("carol", "APPROVED", OLD, ("platform",)),
    ]
    decision = embedded.change_decision(ps, build_change_input(targets, CHANGE, reviews))
    assert decision.findings == ()
    assert [
        (a.group, a.count, a.reason, a.satisfied_by, a.satisfied) for a in decision.approvals
    ] == [
        ("*", 2, "changes production (shop/production)", ("bob",), False),
        (
            "platform",
            1,
            "dangerous: PersistentVolumeClaim/shop/data is deleted: the volume's data is lost",
            ("bob",),
            True,
        ),
    ]


def test_dangerous_changes_reach_the_change_policies(embedded: EmbeddedEngine) -> None:
    ps = load_policy_set(DEFAULT_POLICIES, "server")
    targets = [
        dataclasses.replace(
            target_result(
                "shop", "staging", [("", "PersistentVolumeClaim", "data", DiffStatus.DELETED)]
            ),
            dangers=(PVC_DELETED,),
        )
    ]
    doc = build_change_input(targets, CHANGE, [])
    jsonschema.validate(doc, SCHEMA)
    assert (
        doc["dangerous"]
        == doc["targets"][0]["dangerous"]
        == [
            {
                "kind": "delete",
                "severity": "error",
                "target": "shop/staging",
                "message": "PersistentVolumeClaim/shop/data is deleted: the volume's data is lost",
                "object": {
                    "group": "",
                    "kind": "PersistentVolumeClaim",
                    "namespace": "shop",
                    "name": "data",
                    "key": "PersistentVolumeClaim/shop/data",
                },
                "field": None,
                "file": "apps/shop/staging/data.yaml",
                "line": 1,
                "count": 0,
            }
        ]
    )
    decision = embedded.change_decision(ps, doc)
    [denial] = decision.findings
    assert (denial.severity, denial.rule, denial.object) == (
        Severity.ERROR,
        "gitops.change.deny_dangerous",
        PVC_DELETED.object,
    )
    assert denial.message == (
        "shop/staging: PersistentVolumeClaim/shop/data is deleted: the "
        "volume's data is lost; needs an approval from the platform team"
    )


def test_a_renamed_object_also_leaves_its_deleted_entry() -> None:
    old, new = (
        ObjKey("", "ConfigMap", "shop", "cfg-5g7h8k9m2t"),
        ObjKey("", "ConfigMap", "shop", "cfg-9b8c7d6f5g"),
    )
    result = TargetResult(
        Target("shop", "staging", "kustomize", "apps/shop"),
        State.SUCCESS,
        (ObjectDiff(new, DiffStatus.CHANGED, "d", ("data.a",), "cm.yaml", 1, renamed_from=old),),
    )
    doc = build_change_input([result], CHANGE)
    jsonschema.validate(doc, SCHEMA)
    assert [
        (o["name"], o["status"], o.get("renamed_from"), o.get("renamed_to"))
        for o in doc["targets"][0]["objects"]
    ] == [(new.name, "changed", str(old), None), (old.name, "deleted", None, str(new))]


def test_malformed_approvals_fail_closed(embedded: EmbeddedEngine) -> None:
    ps = policy_set_from_files(
        {
            "c.rego": b"package gitops.change\nimport rego.v1\n"
            b'approvals contains {"group": "x", "count": 0} if true\n'
            b'warn contains {"msg": "careful", "file": "a.yaml", '
            b'"line": 4} if true\n'
        },
        "server",
    )
    decision = embedded.change_decision(ps, build_change_input([], CHANGE))
    assert decision.approvals == ()
    assert [(f.severity, f.rule, f.file, f.line) for f in decision.findings] == [
        (Severity.ERROR, "gitops.change.approvals", None, None),
        (Severity.WARNING, "gitops.change.warn", "a.yaml", 4),
    ]


def test_input_module_is_pure() -> None:
    tree = ast.parse(Path(ROOT / "bot" / "policy" / "input.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "collections.abc", "dataclasses", "typing", "bot.model"}
