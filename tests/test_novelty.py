"""New versus existing findings (bot.novelty): what the change introduces decides."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.model import Finding, ObjKey, Severity
from bot.novelty import BLOCK_ALL, BLOCK_NEW, deciding, identity, mark_new, message_key

SVC = ObjKey("", "Service", "shop", "web")
CM_OLD = ObjKey("", "ConfigMap", "shop", "web-config-5g7h8k9m2t")
CM_NEW = ObjKey("", "ConfigMap", "shop", "web-config-9b8c7d6f5g")


def f(
    message: str,
    obj: ObjKey | None = SVC,
    check: str = "policy",
    rule: str | None = "main.deny",
    line: int = 1,
    file: str = "apps/shop/svc.yaml",
    severity: Severity = Severity.ERROR,
) -> Finding:
    return Finding(severity, check, message, file, line, obj, rule)


def test_message_key_leaves_out_what_moves_but_not_the_problem() -> None:
    assert message_key("a.yaml:12: duplicate of b.yaml:40:3 (document 4, line 7)") == message_key(
        "a.yaml:13: duplicate of b.yaml:52:1 (document 2, line 9)"
    )
    assert message_key("spec.template.spec.containers[1].image: bad") == message_key(
        "spec.template.spec.containers[0].image: bad"
    )
    assert message_key("container web is privileged") != message_key("container api is privileged")
    assert message_key("replicas: '3' is not of type 'integer'") != message_key(
        "replicas: 'x' is not of type 'integer'"
    )


def test_an_old_problem_stays_old_when_its_line_moves() -> None:
    base = [f("Service/web: missing the label app.kubernetes.io/name", line=3)]
    head = [
        f("Service/web: missing the label app.kubernetes.io/name", line=9),
        f("Service/web: container web is privileged", line=9),
    ]
    marked = mark_new(head, base)
    assert [x.new for x in marked] == [False, True]
    assert [x.line for x in marked] == [9, 9]  # only `new` changes


def test_identity_is_target_object_check_rule_and_message() -> None:
    base = [f("m")]
    assert [x.new for x in mark_new([f("m", obj=ObjKey("", "Service", "other", "web"))], base)] == [
        True
    ]
    assert [x.new for x in mark_new([f("m", check="validate")], base)] == [True]
    assert [x.new for x in mark_new([f("m", rule="main.warn")], base)] == [True]
    assert [x.new for x in mark_new([f("m", file="elsewhere.yaml")], base)] == [False]


def test_a_second_copy_of_an_old_problem_is_new() -> None:
    base = [f("container web has no requests.cpu")]
    head = [f("container web has no requests.cpu"), f("container web has no requests.cpu")]
    assert [x.new for x in mark_new(head, base)] == [False, True]


def test_renamed_objects_keep_their_old_findings() -> None:
    base = [f(f"ConfigMap/{CM_OLD.name}: missing the label app.kubernetes.io/name", obj=CM_OLD)]
    head = [f(f"ConfigMap/{CM_NEW.name}: missing the label app.kubernetes.io/name", obj=CM_NEW)]
    assert [x.new for x in mark_new(head, base)] == [True]
    assert [x.new for x in mark_new(head, base, {CM_NEW: CM_OLD})] == [False]
    assert identity(head[0], {CM_NEW: CM_OLD}) == identity(base[0])


def test_dangerous_changes_are_always_new() -> None:
    danger = f("PersistentVolumeClaim/shop/data is deleted", check="dangerous")
    assert [x.new for x in mark_new([danger], [danger])] == [True]


def test_only_new_findings_decide_unless_block_all() -> None:
    old, new = f("old", rule="a"), f("new", rule="b")
    marked = mark_new([old, new], [old])
    assert [x.message for x in deciding(marked, BLOCK_NEW)] == ["new"]
    assert [x.message for x in deciding(marked, BLOCK_ALL)] == ["old", "new"]


def test_novelty_module_is_pure() -> None:
    tree = ast.parse((Path(__file__).parents[1] / "bot" / "novelty.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {
        "__future__",
        "collections",
        "collections.abc",
        "dataclasses",
        "re",
        "bot.model",
    }
