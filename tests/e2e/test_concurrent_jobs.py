"""Jobs on one change at the same time (three rechecks at once, on several worker threads)
leave one review comment: comment upserts are serialised per change by a lease in the store."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from bot import markers
from tests.e2e.loop import REPO, Loop
from tests.web.hookclient import fixture
from tests.conftest import delivery_row

pytestmark = pytest.mark.e2e


def recheck(loop: Loop, sender: str = "alice") -> dict[str, Any]:
    data = json.loads(fixture("github/issue_comment/created.payload.json"))
    data["issue"]["number"] = 1
    data["issue"]["pull_request"] = {"url": f"{loop.forge.url}/repos/{REPO}/pulls/1"}
    data["comment"]["body"] = markers.RECHECK
    data["sender"]["login"] = sender
    return data


def test_three_simultaneous_rechecks_post_one_review_comment(loop: Loop) -> None:
    head, base = loop.head("change"), loop.head("main")
    loop.forge.add_pull(REPO, 1, head_sha=head, base_sha=base, files=["apps/web/deployment.yaml"])
    loop.forge.permissions[(REPO, "alice")] = "write"
    for _ in range(3):
        assert loop.deliver("issue_comment", recheck(loop))[0] == 202
    # The first job to look for its comment sees the list as it was, answered slowly:
    # the others reach the same step meanwhile.
    loop.forge.slow("GET", r"/issues/1/comments$", 3.0)
    huey = loop.services.queue.huey
    tasks = [huey.dequeue() for _ in range(3)]
    threads = [threading.Thread(target=huey.execute, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    reviews = [c for c in loop.comments() if markers.owns(c["body"], markers.REVIEW)]
    assert len(reviews) == 1, [c["id"] for c in reviews]
    finals = [s for s in loop.statuses(head) if s["state"] != "pending"]
    assert len(finals) == 3 and {s["state"] for s in finals} == {"failure"}
    outcomes = {delivery_row(loop.services.store, k)["outcome"] for k in _keys(loop)}
    assert outcomes == {"done"}


def _keys(loop: Loop) -> list[str]:
    from bot.store import deliveries

    with loop.services.store.engine.connect() as conn:
        return [row.id for row in conn.execute(deliveries.select())]
