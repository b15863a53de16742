"""Missed events recovered: the bot is down while a pull request opens and a merge lands; at
start the sweep finds both (the forge's open pull requests, the protected branch's tip over
git) and they are reviewed and deployed with no webhook delivery. Real git, the GitHub test
server, the queue and the store of the running loop."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import REGISTRY

from bot.pipeline.audit import approvers
from bot.pipeline.sweep import sweep_loop
from bot.store import deliveries
from tests.conftest import git
from tests.e2e.loop import REPO, Loop, pr_payload, running_loop
from tests.e2e.test_deploy_loop import DEPLOY, env_objects, merge, push_payload, reviewed_change

SWEEP = "gitops_bot_sweep_recovered_total"


def recovered(kind: str) -> float:
    return REGISTRY.get_sample_value(SWEEP, {"kind": kind}) or 0.0


def start(loop: Loop) -> None:
    """What `serve` and `worker` do when they start: sweep once (then every interval)."""
    with sweep_loop(
        loop.services.config, loop.services.store, loop.services.queue.enqueue
    ) as sweeper:
        assert sweeper is not None and sweeper.first.wait(120)


def readyz(loop: Loop) -> dict:
    with urllib.request.urlopen(f"{loop.url}/readyz", timeout=30) as resp:  # noqa: S310
        return json.loads(resp.read())


def test_a_pull_request_and_a_merge_missed_while_down_are_handled_at_start(tmp_path: Path) -> None:
    with running_loop(tmp_path) as loop:
        # While up: the bot sees the repository (#1 reviewed, merged and deployed).
        reviewed_change(loop, 1, "one", {"charts/shop/values-staging.yaml": "replicas: 2\n"})
        before, after = merge(loop, 1, "one")
        assert loop.deliver("push", push_payload(before, after))[0] == 202
        loop.work()
        # #3 is reviewed while up too; the bot then goes down.
        reviewed_change(loop, 3, "three", {"charts/shop/values-production.yaml": "replicas: 5\n"})
        assert readyz(loop) == {"status": "ok", "checks": {"database": "ok", "queue": "ok"}}
        delivered = {d["id"] for d in _deliveries(loop)}

        # Down: #2 opens, #3 is merged. The forge's deliveries never arrive.
        git(loop.repo, "checkout", "-q", "-b", "two", "main")
        (loop.repo / "apps/web/deployment.yaml").write_text(
            (loop.repo / "apps/web/deployment.yaml")
            .read_text()
            .replace("replicas: 2", 'replicas: "2"')
        )
        git(loop.repo, "commit", "-qam", "web: replicas as a string")
        git(loop.repo, "checkout", "-q", "main")
        head2 = loop.head("two")
        loop.forge.add_pull(
            REPO, 2, head_sha=head2, base_sha=loop.head("main"), files=["apps/web/deployment.yaml"]
        )
        _, merged = merge(loop, 3, "three")

        reviews, deploys = recovered("review"), recovered("deploy")
        start(loop)
        loop.work()

        # #2 was reviewed (its schema error found) and #3's merge deployed.
        assert [s["state"] for s in loop.statuses(head2)] == ["pending", "failure"]
        assert "spec.replicas" in loop.comments(2)[0]["body"]
        assert [
            s["state"] for s in loop.forge.statuses if s["sha"] == merged and s["context"] == DEPLOY
        ] == ["success", "success"]
        shop = next(
            o
            for o in env_objects(loop, "production").values()
            if o["kind"] == "Deployment" and o["metadata"]["name"] == "shop"
        )
        assert shop["spec"]["replicas"] == 5
        # ... with no delivery: only the sweep's own jobs were added.
        added = [d for d in _deliveries(loop) if d["id"] not in delivered]
        assert sorted((d["event"], d["kind"]) for d in added) == [
            ("sweep", "push"),
            ("sweep", "review"),
        ]
        assert (recovered("review") - reviews, recovered("deploy") - deploys) == (1, 1)
        detail = readyz(loop)
        assert detail["status"] == "ok"
        [missed] = detail["detail"]["deliveries"]
        assert (
            "1 change head(s) and 1 protected branch tip(s) moved without a webhook delivery"
            in missed
            and "GitLab disables a hook" in missed
        )

        # A second start recovers nothing more: everything is reviewed and deployed now.
        start(loop)
        assert loop.services.queue.size() == 0
        assert (recovered("review") - reviews, recovered("deploy") - deploys) == (1, 1)


def test_history_from_before_the_bot_is_left_alone(loop: Loop) -> None:
    # The first delivery comes after main's tip was committed: that tip predates the bot.
    head = loop.head("change")
    loop.forge.add_pull(
        REPO, 1, head_sha=head, base_sha=loop.head("main"), files=["apps/web/deployment.yaml"]
    )
    assert loop.deliver("pull_request", pr_payload("opened", head, loop.head("main")))[0] == 202
    loop.work()
    count = loop.services.store.count("deliveries")
    start(loop)
    assert loop.services.store.count("deliveries") == count  # nothing recovered
    assert git(loop.repo, "branch", "--list", "env/*") == ""


def test_approvals_given_or_withdrawn_while_down_are_counted_by_the_sweep(loop: Loop) -> None:
    """A production change waits for two approvals; they come while the bot is down, and
    one is withdrawn in a later outage. The sweep sees the forge's approvers differ from
    those the last review counted and reviews the head again (once per set of approvers)."""
    git(loop.repo, "checkout", "-q", "-b", "wait", "main")
    (loop.repo / "charts/shop/values-production.yaml").write_text("replicas: 4\n")
    git(loop.repo, "commit", "-qam", "shop: 4 replicas in production")
    git(loop.repo, "checkout", "-q", "main")
    head, base = loop.head("wait"), loop.head("main")
    loop.forge.add_pull(
        REPO,
        1,
        head_sha=head,
        base_sha=base,
        author="octocat",
        files=["charts/shop/values-production.yaml"],
    )
    assert loop.deliver("pull_request", pr_payload("opened", head, base))[0] == 202
    loop.work()
    assert [s["state"] for s in loop.statuses(head)] == ["pending", "failure"]
    start(loop)
    assert loop.services.queue.size() == 0  # nothing moved: nothing to recover

    # Down: alice and bob approve; the review events never arrive.
    for user in ("alice", "bob"):
        loop.forge.permissions[(REPO, user)] = "write"
        loop.forge.add_review(REPO, 1, user, "APPROVED", head)
    start(loop)
    loop.work()
    assert loop.statuses(head)[-1]["state"] == "success", loop.comments(1)[-1]["body"]
    assert approvers(loop.services.store, "127.0.0.1", REPO, head) == ["alice", "bob"]
    [missed] = readyz(loop)["detail"]["deliveries"]
    assert "the approvals of 1 change(s) moved without a webhook delivery" in missed
    start(loop)
    assert loop.services.queue.size() == 0  # the same approvers: not reviewed again

    # Down again: bob asks for changes, which cancels his approval.
    loop.forge.add_review(REPO, 1, "bob", "CHANGES_REQUESTED", head)
    start(loop)
    loop.work()
    assert loop.statuses(head)[-1]["state"] == "failure"
    added = [d for d in _deliveries(loop) if d["action"] == "approvals_swept"]
    assert len(added) == 2 and all(d["event"] == "sweep" for d in added)


def _deliveries(loop: Loop) -> list[dict]:
    with loop.services.store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(deliveries))]
