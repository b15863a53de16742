"""GitHub's merge queue end to end: a signed `merge_group` delivery (GitHub's documented
payload, octokit/webhooks), the queued merge commit reviewed against its base with the
approvals of the pull requests in the group, `gitops-bot/review` set on that commit, and the
deploy of the merged commit without a merge-skew refusal. Real git, the GitHub test server."""

from __future__ import annotations

import json
from typing import Any

from bot.pipeline.handlers import pipeline_handlers
from bot.queue import Queue
from bot.store import delivery_key
from tests.conftest import delivery_row, git
from tests.e2e.loop import REPO, Loop, pr_payload
from tests.e2e.test_deploy_loop import DEPLOY, env_objects, merge, push_payload, reviewed_change
from tests.web.hookclient import fixture

STATUS = "gitops-bot/review"


def group_payload(head: str, base: str, number: int) -> dict[str, Any]:
    data = json.loads(fixture("github/merge_group/checks_requested.payload.json"))
    data["repository"].update(full_name=REPO, name=REPO.split("/")[1])
    data["merge_group"].update(
        head_sha=head,
        base_sha=base,
        base_ref="refs/heads/main",
        head_ref=f"refs/heads/gh-readonly-queue/main/pr-{number}-{base}",
    )
    data["merge_group"]["head_commit"]["id"] = head
    return data


def queue(loop: Loop, base: str, *heads: str) -> str:
    """The queue's merge commit: `heads` merged one after the other onto `base`."""
    git(loop.repo, "checkout", "-q", "--detach", base)
    for head in heads:
        git(loop.repo, "merge", "-q", "--no-ff", "-m", f"Merge {head[:7]} (merge queue)", head)
    commit = git(loop.repo, "rev-parse", "HEAD")
    git(loop.repo, "checkout", "-q", "main")
    return commit


def review_states(loop: Loop, sha: str) -> list[tuple[str, str]]:
    return [
        (s["state"], s["description"])
        for s in loop.forge.statuses
        if s["sha"] == sha and s["context"] == STATUS
    ]


def test_queued_commit_is_reviewed_and_deploys_without_a_skew_refusal(loop: Loop) -> None:
    base = loop.head("main")
    # #2 is cut (and reviewed, with its two approvals) before #1 lands on main.
    git(loop.repo, "checkout", "-q", "-b", "prod", base)
    (loop.repo / "charts/shop/values-production.yaml").write_text("replicas: 4\n")
    git(loop.repo, "commit", "-qam", "shop: 4 replicas in production")
    git(loop.repo, "checkout", "-q", "main")
    head2 = loop.head("prod")
    loop.forge.add_pull(
        REPO,
        2,
        head_sha=head2,
        base_sha=base,
        author="octocat",
        files=["charts/shop/values-production.yaml"],
    )
    for user in ("alice", "bob"):
        loop.forge.permissions[(REPO, user)] = "write"
        loop.forge.add_review(REPO, 2, user, "APPROVED", head2)
    assert loop.deliver("pull_request", pr_payload("opened", head2, base, 2))[0] == 202
    loop.work()
    assert loop.statuses(head2)[-1]["state"] == "success"
    reviewed_change(loop, 1, "staging", {"charts/shop/values-staging.yaml": "replicas: 2\n"})
    _, tip = merge(loop, 1, "staging")

    # The queue builds #2 on today's main and asks for checks of that commit.
    commit = queue(loop, tip, head2)
    code, answer = loop.deliver("merge_group", group_payload(commit, tip, 2))
    assert code == 202, answer
    loop.work()
    states = review_states(loop, commit)
    assert [s for s, _ in states] == ["pending", "success"]
    assert states[-1][1].startswith("merge queue: ")
    run = loop.services.store.get_run("github", "127.0.0.1", REPO, 2, commit)
    assert run is not None and run.state == "success"
    # The approvals of #2's head were counted for the merge commit (production needs two).
    approvals = loop.services.store.audit_records(repo=REPO, sha=commit, kinds=["approval"])
    assert sorted((a.actor, a.number, a.detail["approved_sha"]) for a in approvals) == [
        ("alice", 2, head2),
        ("bob", 2, head2),
    ]
    assert all(a.review_id for a in approvals)

    # The queue merges: main moves to the reviewed commit. It renders unlike #2's own head
    # in staging (it has #1), so without the queue's review the skew guard would refuse it.
    git(loop.repo, "merge", "-q", "--ff-only", commit)
    loop.forge.merge_pull(REPO, 2, commit)
    assert loop.deliver("push", push_payload(tip, commit))[0] == 202
    loop.work()
    assert [
        s["state"] for s in loop.forge.statuses if s["sha"] == commit and s["context"] == DEPLOY
    ] == ["success", "success"]
    shop = next(
        o
        for o in env_objects(loop, "staging").values()
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "shop"
    )
    assert shop["spec"]["replicas"] == 2
    deploys = loop.services.store.audit_records(repo=REPO, sha=commit, kinds=["deploy"])
    assert {(d.environment, d.state, d.reviewed_sha) for d in deploys} == {
        ("staging", "succeeded", commit),
        ("production", "succeeded", commit),
    }
    assert deploys[0].detail["approvers"] == ["alice", "bob"]


def test_a_group_member_without_a_passing_review_fails_the_group(loop: Loop) -> None:
    base = loop.head("main")
    head2 = reviewed_change(loop, 2, "two", {"charts/shop/values-production.yaml": "replicas: 4\n"})
    git(loop.repo, "checkout", "-q", "-b", "three", base)
    (loop.repo / "charts/shop/values-staging.yaml").write_text("replicas: 3\n")
    git(loop.repo, "commit", "-qam", "shop: 3 in staging")
    git(loop.repo, "checkout", "-q", "main")
    head3 = loop.head("three")
    loop.forge.add_pull(
        REPO,
        3,
        head_sha=head3,
        base_sha=base,
        author="octocat",
        files=["charts/shop/values-staging.yaml"],
    )  # never reviewed
    commit = queue(loop, base, head2, head3)
    assert loop.deliver("merge_group", group_payload(commit, base, 3))[0] == 202
    loop.work()
    state, description = review_states(loop, commit)[-1]
    assert state == "failure"
    assert description == (
        f"merge queue: #3 has no passing gitops-bot review (with its "
        f"required approvals) at its head {head3[:12]}"
    )

    # Once #3 is reviewed (it needs no approval: staging only), the same group passes, and
    # #2's approvals still count for the commit: both are in the group (git ancestry).
    assert loop.deliver("pull_request", pr_payload("opened", head3, base, 3))[0] == 202
    loop.work()
    assert loop.statuses(head3)[-1]["state"] == "success"
    assert loop.deliver("merge_group", group_payload(commit, base, 3))[0] == 202
    loop.work()
    assert review_states(loop, commit)[-1][0] == "success"
    review = next(
        r
        for r in loop.services.store.audit_records(repo=REPO, sha=commit, kinds=["review"])
        if r.state == "success"
    )
    assert review.detail["changes"] == [2, 3]
    assert set(review.detail["policy_revisions"]) == {"server", "repository"}


def test_a_queue_branch_for_a_closed_pull_request_fails(loop: Loop) -> None:
    base = loop.head("main")
    head = reviewed_change(loop, 4, "four", {"charts/shop/values-staging.yaml": "replicas: 5\n"})
    loop.forge.pulls[(REPO, 4)]["state"] = "closed"
    commit = queue(loop, base, head)
    assert loop.deliver("merge_group", group_payload(commit, base, 4))[0] == 202
    loop.work()
    assert review_states(loop, commit)[-1] == (
        "failure",
        "merge queue: #4 is not an open pull request into main",
    )


def test_a_group_review_failing_while_the_disk_is_short_is_retried_not_failed(
    loop: Loop,
) -> None:
    """A merge group whose review fails while the bot's data disk is short of space is
    retried, not failed: a failed group drops its pull requests from the queue
    (docs/security.md#case-102). With space, the same failure fails the group."""
    base = loop.head("main")
    head = reviewed_change(loop, 6, "six", {"charts/shop/values-staging.yaml": "replicas: 6\n"})
    commit = queue(loop, base, head)
    loop.forge.fail("GET", r"/pulls/6/reviews", 404, times=2)  # a ForgeError: not retried
    assert loop.deliver("merge_group", group_payload(commit, base, 6), delivery="group-6")[0]
    store, config = loop.services.store, loop.services.config
    key = delivery_key("github", "group-6")
    data = delivery_row(store, key)["event_data"]
    short = Queue(config, store, pipeline_handlers(config.with_(data_min_free_mb=2**40), store))
    assert short.run(key, data) == "retry"
    assert [state for state, _ in review_states(loop, commit)] == ["pending"]
    roomy = Queue(config, store, pipeline_handlers(config, store))
    assert roomy.run(key, data) == "done"
    state, description = review_states(loop, commit)[-1]
    assert state == "failure", description
    assert description.startswith("merge queue: review failed:"), description
