"""The forge failing in bursts while a worker reviews: 503s and 429s with Retry-After, a
502, on the status, comment-list and comment-create calls — five failures in a few
seconds. The job is retried with backoff and finishes once: no event is lost to the dead
letters (a job goes there only after failing for an hour), no comment is duplicated."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot import markers
from tests.e2e.loop import open_pr
from tests.faults.harness import GRACE, LEASE, rig

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
AFTER = {"Retry-After": "1"}


def test_forge_5xx_and_429_bursts_are_ridden_out(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        forge = r.loop.forge
        forge.fail("POST", r"/statuses/", 503, times=2, headers=AFTER)
        forge.fail(
            "GET",
            r"/issues/1/comments$",
            429,
            times=2,
            headers={**AFTER, "x-ratelimit-remaining": "0"},
        )
        forge.fail("POST", r"/issues/1/comments$", 502, times=1, headers=AFTER)
        head = open_pr(r.loop, "change")
        started = time.monotonic()
        elapsed = r.finish(started)
        assert elapsed <= LEASE + GRACE
        injected = [c for c in forge.requests if c.status in (429, 502, 503)]
        r.check()  # no event lost first
        assert len(injected) == 5  # as many failures as MAX_ATTEMPTS
        states = r.review_statuses(head)
        assert states[-1] == "failure" and states.count("failure") == 1, states
        [review] = [c for c in r.loop.comments() if markers.owns(c["body"], markers.REVIEW)]
        assert "spec.replicas" in review["body"]
        r.check()
        assert r.loop.services.store.count("review_runs") == 1
