"""The outcome vocabulary (bot.outcomes): the strings the store, the JSON API, the audit trail
and the webhook replies carry stay byte-for-byte what earlier versions wrote."""

from __future__ import annotations

import json
from enum import StrEnum

import pytest

from bot.outcomes import (
    DEPLOY_STATES,
    EXIT_STATUS,
    FINAL,
    FINAL_DEPLOY_STATES,
    Delivery,
    DeployState,
    HookReply,
    JobRun,
    ReviewState,
    Verdict,
)
from bot.store import Store

# The stored / wire strings, as written before the enums existed.
WIRE: list[tuple[type[StrEnum], list[str]]] = [
    (
        ReviewState,
        [
            "running",
            "success",
            "warning",
            "failure",
            "error",
            "skipped",
            "superseded",
            "duplicate",
            "refused",
            "ignored",
            "review",
        ],
    ),
    (DeployState, ["queued", "running", "succeeded", "failed", "refused", "superseded", "skipped"]),
    (Delivery, ["queued", "claimed", "done", "superseded", "failed", "dead"]),
    (JobRun, ["not-claimed", "retry", "deferred"]),
    (HookReply, ["queued", "requeued", "duplicate", "ignored", "error"]),
    (Verdict, ["passed", "failed", "needs approval"]),
]


@pytest.mark.parametrize(("enum", "values"), WIRE, ids=[e.__name__ for e, _ in WIRE])
def test_values_are_the_strings_stored_before(enum: type[StrEnum], values: list[str]) -> None:
    assert [m.value for m in enum] == values
    for member in enum:
        assert json.dumps(member) == json.dumps(member.value)
        assert f"review.{member}" == f"review.{member.value}"  # audit action names
        assert enum(member.value) is member


def test_final_and_deploy_state_sets() -> None:
    assert FINAL == ("done", "superseded", "failed", "dead")
    assert DEPLOY_STATES == ("queued", "running", "succeeded", "failed", "refused", "superseded")
    assert FINAL_DEPLOY_STATES == ("succeeded", "failed", "refused", "superseded")
    assert EXIT_STATUS == {"passed": 0, "failed": 1, "needs approval": 3}


def test_a_row_written_as_a_plain_string_reads_back_as_the_member() -> None:
    store = Store.from_url("sqlite://")
    store.upgrade()
    run_id = store.start_run("github", "github.com", "acme/shop", 7, "a" * 40)
    with store.engine.begin() as conn:  # as an earlier version wrote it: a plain str
        conn.exec_driver_sql("UPDATE review_runs SET state = 'superseded' WHERE id = ?", (run_id,))
    run = store.get_run("github", "github.com", "acme/shop", 7, "a" * 40)
    assert run is not None and run.state == ReviewState.SUPERSEDED
    assert ReviewState(run.state) is ReviewState.SUPERSEDED
    store.finish_run(run_id, ReviewState.DUPLICATE)
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT state, typeof(state) FROM review_runs").one()
    assert tuple(stored) == ("duplicate", "text")
