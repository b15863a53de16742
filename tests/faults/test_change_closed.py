"""A change closed or merged while its review renders: the worker, held at the fault point
inside `helm template`, goes on once the change is closed on the forge; the review then
publishes nothing (no comment, no final status) and records the run as skipped, saying why
(docs/security.md#case-84)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.loop import REPO
from tests.faults.harness import GRACE, LEASE, Rig, rig, wait
from tests.faults.test_review_kills import open_pr_delivery, slow_chart

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
FAULT = "run:helm template"


@pytest.mark.parametrize("merged", [False, True], ids=["closed", "merged"])
def test_a_change_closed_while_it_renders_gets_no_comment_and_no_status(
    tmp_path: Path, merged: bool
) -> None:
    with rig(tmp_path) as r:
        slow_chart(r)
        head = r.loop.head("change")
        r.loop.forge.add_pull(
            REPO,
            1,
            head_sha=head,
            base_sha=r.loop.head("main"),
            files=["apps/web/deployment.yaml", "charts/slow/values.yaml"],
        )
        open_pr_delivery(r, head)
        close_while_held(r, tmp_path, FAULT, merged)
        assert r.loop.comments() == []
        assert r.review_statuses(head) == ["pending"]  # written before the render began
        run = r.loop.services.store.get_run("github", "127.0.0.1", REPO, 1, head)
        state = "merged" if merged else "closed"
        assert run is not None and run.state == "skipped", run
        assert run.status_line == f"not published: the change was {state} while it was reviewed"
        r.check()


def test_a_change_closed_before_its_review_fails_gets_no_comment_and_no_status(
    tmp_path: Path,
) -> None:
    """The same when the review stops on a problem the user could fix (here the change's base
    is not a branch name the bot accepts): nothing is posted on a closed change."""
    with rig(tmp_path) as r:
        head = r.loop.head("change")
        r.loop.forge.add_pull(
            REPO, 1, head_sha=head, base_sha=r.loop.head("main"), base_ref="main..x"
        )
        open_pr_delivery(r, head)
        close_while_held(r, tmp_path, "before_pending")
        assert r.loop.comments() == []
        assert r.review_statuses(head) == ["pending"]
        run = r.loop.services.store.get_run("github", "127.0.0.1", REPO, 1, head)
        assert run is not None and run.state == "skipped", run
        assert run.status_line == "not published: the change was closed while it was reviewed"
        r.check()


def close_while_held(r: Rig, tmp_path: Path, fault: str, merged: bool = False) -> None:
    """Hold a worker at `fault`, close (or merge) pull request #1 on the forge, let the
    worker go on and wait until its job is done."""
    hold = tmp_path / "hold"
    hold.touch()
    worker = r.worker(fault, GITOPS_BOT_FAULT_HOLD=str(hold))
    wait(
        lambda: f"fault point {fault} reached" in worker.log(10**6),
        90,
        f"the worker to reach {fault}: {worker.log()}",
    )
    pull = r.loop.forge.pulls[(REPO, 1)]
    pull["state"] = "closed"
    if merged:
        pull.update(merged=True, merged_at="2026-01-01T00:00:00Z")
    hold.unlink()
    wait(
        lambda: r.open_deliveries() == [],
        LEASE + GRACE,
        f"the review to finish: {r.open_deliveries()} {worker.log()}",
    )
    assert worker.stop() == 0, worker.log()
