"""The audit records are append-only: the store can only append and read them, and the
database itself refuses to change or remove one (SQLite and PostgreSQL)."""

from __future__ import annotations

import ast
import inspect
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import Store
from bot.store.audit import AuditTrail, split_repo
from tests.services import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]

ROOT = Path(__file__).resolve().parents[2]
SHA = "c" * 40


def store_at(url: str) -> Store:
    store = Store.from_url(url)
    store.upgrade()
    return store


def fill(store: Store) -> None:
    store.append_record(
        "approval",
        "github",
        "github.com",
        "acme/shop",
        actor="alice",
        number=7,
        sha=SHA,
        review_id="1001",
        detail={"teams": ["platform"]},
    )
    store.append_record(
        "override",
        "github",
        "github.com",
        "acme/shop",
        actor="carol",
        number=7,
        sha=SHA,
        rule="main.deny",
        reason="vendor image, ticket 42",
    )
    store.append_record(
        "deploy",
        "github",
        "github.com",
        "acme/shop",
        actor="gitops-bot",
        number=7,
        sha="d" * 40,
        reviewed_sha=SHA,
        environment="production",
        state="succeeded",
        detail={"approvers": ["alice"]},
    )
    store.append_record(
        "approval", "gitlab", "gitlab.example.com", "acme/shop", actor="bob", number=3, sha="e" * 40
    )


def test_records_are_read_back_in_order_and_filtered(tmp_path: Path) -> None:
    store = store_at(f"sqlite:///{tmp_path}/a.db")
    fill(store)
    every = store.audit_records()
    assert [r.kind for r in every] == ["approval", "override", "deploy", "approval"]
    shop = store.audit_records(repo="github.com/acme/shop")
    assert [r.actor for r in shop] == ["alice", "carol", "gitops-bot"]
    assert len(store.audit_records(repo="acme/shop")) == 4  # any host
    assert [r.kind for r in store.audit_records(repo="acme/shop", sha=SHA)] == [
        "approval",
        "override",
        "deploy",
    ]  # the deploy names SHA as its reviewed SHA
    assert store.audit_records(kinds=["override"])[0].to_dict()["rule"] == "main.deny"
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert store.audit_records(since=later) == []
    with pytest.raises(ValueError, match="kind must be one of"):
        store.append_record("nonsense", "github", "h", "a/b", actor="x")


def test_split_repo() -> None:
    assert split_repo("github.com/acme/shop") == ("github.com", "acme/shop")
    assert split_repo("acme/shop", "h") == ("h", "acme/shop")
    assert split_repo("gitlab.example.com/group/sub/p") == ("gitlab.example.com", "group/sub/p")
    assert split_repo("group/sub/p") == (None, "group/sub/p")


def test_the_store_api_has_no_update_or_delete_path() -> None:
    # The only public operations on the records are these two.
    public = {
        name
        for name, _ in inspect.getmembers(AuditTrail, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == {"append_record", "audit_records"}
    # And no module of the store builds an UPDATE or DELETE of the table, by any spelling.
    offenders = []
    for path in sorted((ROOT / "bot" / "store").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("update", "delete")
                and isinstance(node.value, ast.Name)
                and node.value.id == "audit_records"
            ):
                offenders.append(f"{path.name}:{node.lineno}")
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "audit_records" in node.value
                and any(word in node.value.upper() for word in ("UPDATE ", "DELETE "))
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def refused(store: Store, statement: str) -> str:
    with pytest.raises(sa.exc.DBAPIError) as caught:
        with store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    return str(caught.value)


STATEMENTS = [
    "UPDATE audit_records SET actor = 'mallory'",
    "UPDATE audit_records SET state = 'succeeded' WHERE kind = 'deploy'",
    "DELETE FROM audit_records",
    "DELETE FROM audit_records WHERE actor = 'carol'",
]


def test_sqlite_refuses_to_change_or_remove_a_record(tmp_path: Path) -> None:
    store = store_at(f"sqlite:///{tmp_path}/a.db")
    fill(store)
    before = [r.to_dict() for r in store.audit_records()]
    for statement in STATEMENTS:
        assert "append-only" in refused(store, statement)
    assert [r.to_dict() for r in store.audit_records()] == before


def test_postgresql_refuses_to_change_remove_or_truncate(postgres_url: str) -> None:
    store = store_at(postgres_url)
    fill(store)
    before = [r.to_dict() for r in store.audit_records()]
    for statement in [*STATEMENTS, "TRUNCATE audit_records"]:
        assert "append-only" in refused(store, statement)
    assert [r.to_dict() for r in store.audit_records()] == before
