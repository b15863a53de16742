"""Store: deployments and drift reports (the deploy pipeline's records), review and audit filters,
and the migration that adds them to an existing database."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.migrations import current, upgrade
from bot.outcomes import DeployState, ReviewState
from bot.store import Store

SHA = "a" * 40


@pytest.fixture
def store(tmp_path: Path) -> Store:
    found = Store.from_url(f"sqlite:///{tmp_path / 'bot.db'}")
    found.upgrade()
    return found


def test_deployment_lifecycle(store: Store) -> None:
    first = store.record_deployment("github", "github.com", "acme/shop", "staging", SHA, 7)
    [queued] = store.deployments()
    assert (queued.id, queued.state, queued.change_number) == (first, "queued", 7)
    assert queued.applied == [] and queued.failed == [] and queued.finished_at is None
    store.mark_deployment(first, DeployState.RUNNING, "applying 2 objects")
    assert store.deployments()[0].state == "running"
    store.finish_deployment(
        first,
        DeployState.FAILED,
        "1 of 2 applied",
        ("ConfigMap/web/a",),
        [{"key": "Secret/web/b", "error": "forbidden"}],
    )
    [done] = store.deployments()
    assert done.state == "failed" and done.summary == "1 of 2 applied"
    assert done.applied == ["ConfigMap/web/a"]
    assert done.failed == [{"key": "Secret/web/b", "error": "forbidden"}]
    assert done.finished_at is not None and done.finished_at.tzinfo is not None
    assert done.finished_at >= done.started_at


def test_deployment_states_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="queued, running"):
        store.record_deployment("github", "github.com", "acme/shop", "prod", SHA, state="ok")  # type: ignore[arg-type]
    deploy = store.record_deployment("github", "github.com", "acme/shop", "prod", SHA)
    with pytest.raises(ValueError, match="succeeded, failed, refused, superseded"):
        store.finish_deployment(deploy, DeployState.RUNNING, "not final")


def test_deployments_newest_first_and_filtered(store: Store) -> None:
    for repo, env in (("acme/shop", "staging"), ("acme/shop", "prod"), ("acme/pay", "prod")):
        store.record_deployment("gitlab", "gitlab.com", repo, env, SHA)
    assert [(d.repo, d.environment) for d in store.deployments()] == [
        ("acme/pay", "prod"),
        ("acme/shop", "prod"),
        ("acme/shop", "staging"),
    ]
    assert len(store.deployments(limit=1)) == 1
    assert [d.repo for d in store.deployments(environment="prod")] == ["acme/pay", "acme/shop"]
    assert [d.environment for d in store.deployments(repo="acme/shop", environment="prod")] == [
        "prod"
    ]


def test_latest_drift_is_the_newest_report_per_target(store: Store) -> None:
    changed = [
        {"key": "Deployment/web/web", "status": "changed", "changed_fields": ["spec.replicas"]}
    ]
    store.record_drift("github.com", "acme/shop", "prod", "web/prod", changed)
    newest = store.record_drift("github.com", "acme/shop", "prod", "web/prod", [], healed=True)
    store.record_drift("github.com", "acme/shop", "staging", "web/staging", changed)
    store.record_drift("github.com", "acme/pay", "prod", "pay/prod", changed)
    reports = store.latest_drift()
    assert [(r.repo, r.target) for r in reports] == [
        ("acme/pay", "pay/prod"),
        ("acme/shop", "web/prod"),
        ("acme/shop", "web/staging"),
    ]
    prod = reports[1]
    assert prod.id == newest and prod.healed is True and prod.objects == []
    assert reports[2].objects == changed and reports[2].healed is False
    assert [r.target for r in store.latest_drift(repo="acme/pay")] == ["pay/prod"]


def test_review_and_audit_filters(store: Store) -> None:
    for number, state in (
        (1, ReviewState.SUCCESS),
        (2, ReviewState.FAILURE),
        (3, ReviewState.FAILURE),
    ):
        store.finish_run(store.start_run("github", "github.com", "acme/shop", number, SHA), state)
    assert [r.number for r in store.latest_runs(state="failure")] == [3, 2]
    assert [r.number for r in store.latest_runs(number=1)] == [1]
    assert store.find_run("github.com", "acme/shop", 2, SHA) is not None
    assert store.find_run("gitlab.com", "acme/shop", 2, SHA) is None
    store.audit("alice", "review.approved", "github.com/acme/shop", 1, SHA)
    store.audit("bob", "review_x", "github.com/acme/shop_2", 1, SHA)
    assert [e["actor"] for e in store.audit_log(action="review")] == ["alice"]
    assert [e["actor"] for e in store.audit_log(action="review_x")] == ["bob"]
    assert [e["actor"] for e in store.audit_log(repo="acme/shop")] == ["alice"]
    assert [e["actor"] for e in store.audit_log(repo="acme/shop_2")] == ["bob"]
    assert store.audit_log(repo="shop") == [] and store.audit_log(actor="carol") == []
    store.audit("carol", "deploy.refused", "gitlab.com/group/sub/app", None, SHA)
    assert [e["actor"] for e in store.audit_log(repo="group/sub/app")] == ["carol"]
    assert store.audit_log(repo="sub/app") == []


def test_migration_adds_the_tables_to_an_existing_database(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    old = Store(engine)
    run = old.start_run("github", "github.com", "acme/shop", 1, SHA)
    assert "deployments" not in sa.inspect(engine).get_table_names()
    old.upgrade()
    assert current(engine) not in (None, "0001")
    assert {"deployments", "drift_reports"} <= set(sa.inspect(engine).get_table_names())
    assert old.latest_runs()[0].id == run
    assert old.record_deployment("github", "github.com", "acme/shop", "prod", SHA) == 1
