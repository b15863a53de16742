"""The webhook review loop end to end: signed GitHub deliveries in, one comment and one
required status out, against the GitHub test server (every request checked against the
official OpenAPI description) and real git repositories."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from bot.app import create_app
from bot.config import Config, Secret
from bot.services import Services
from tests.conftest import GitRepo, git
from tests.e2e.loop import REPO, SLOW_TEMPLATE, TOKEN, Loop, open_pr, pr_payload
from tests.forgeserver import GitHubServer
from tests.web.hookclient import SECRET, fixture, github_headers, post


def test_opened_then_fixed_edits_one_comment(loop: Loop) -> None:
    head = open_pr(loop, "change")
    loop.work()
    [comment] = loop.comments()
    assert comment["body"].startswith("<!-- gitops-bot:review -->")
    assert "spec.replicas" in comment["body"] and comment["user"]["login"] == "gitops-bot"
    states = [s["state"] for s in loop.statuses(head)]
    assert states == ["pending", "failure"]

    # The author fixes the manifest and pushes: the same comment is edited, status success.
    git(loop.repo, "checkout", "-q", "change")
    deploy = loop.repo / "apps/web/deployment.yaml"
    deploy.write_text(deploy.read_text().replace('replicas: "3"', "replicas: 3"))
    git(loop.repo, "commit", "-qam", "web: replicas is a number")
    fixed = loop.head("change")
    loop.forge.pulls[(REPO, 1)]["head"]["sha"] = fixed
    assert (
        loop.deliver("pull_request", pr_payload("synchronize", fixed, loop.head("main")))[0] == 202
    )
    loop.work()
    [comment] = loop.comments()
    assert "is not of type" not in comment["body"]
    final = loop.statuses(fixed)[-1]
    # production changes need two approvals (default policy): not success without them
    assert final["state"] == "failure" and "approval" in final["description"]


def test_approvals_on_the_head_open_the_gate_and_stale_ones_do_not(loop: Loop) -> None:
    git(loop.repo, "checkout", "-q", "-b", "good", "main")
    values = loop.repo / "charts/shop/values-production.yaml"
    values.write_text("replicas: 4\n")
    git(loop.repo, "commit", "-qam", "shop: 4 replicas in production")
    head = open_pr(loop, "good")
    for user in ("alice", "bob"):
        loop.forge.permissions[(REPO, user)] = "write"
    loop.forge.add_review(REPO, 1, "alice", "APPROVED", loop.head("main"))  # stale SHA
    loop.forge.add_review(REPO, 1, "bob", "APPROVED", head)
    loop.work()
    assert loop.statuses(head)[-1]["state"] == "failure"
    assert "1 of 2" in loop.comments()[0]["body"]

    loop.forge.add_review(REPO, 1, "alice", "APPROVED", head)  # alice approves the head
    code, _ = loop.deliver("pull_request_review", review_payload(head))
    assert code == 202
    loop.work()
    assert loop.statuses(head)[-1]["state"] == "success"
    assert len(loop.comments()) == 1


def review_payload(head: str) -> dict[str, Any]:
    data = json.loads(fixture("github/pull_request_review/submitted.payload.json"))
    data["pull_request"]["number"] = 1
    data["pull_request"]["head"]["sha"] = head
    data["review"]["commit_id"] = head
    return data


def test_redelivery_creates_no_second_job(loop: Loop) -> None:
    head, base = loop.head("change"), loop.head("main")
    loop.forge.add_pull(REPO, 1, head_sha=head, base_sha=base, files=["apps/web/x.yaml"])
    body = pr_payload("opened", head, base)
    assert loop.deliver("pull_request", body, delivery="d-1")[0] == 202
    assert loop.deliver("pull_request", body, delivery="d-1")[0] in (200, 202)
    loop.work()
    assert [s["state"] for s in loop.statuses(head)] == ["pending", "failure"]
    assert len(loop.comments()) == 1


def test_recheck_from_a_read_only_user_is_refused(loop: Loop) -> None:
    head = open_pr(loop, "change")
    loop.work()
    loop.forge.permissions[(REPO, "mallory")] = "read"
    data = json.loads(fixture("github/issue_comment/created.payload.json"))
    data["issue"]["number"] = 1
    data["issue"]["pull_request"] = {"url": f"{loop.forge.url}/repos/{REPO}/pulls/1"}
    data["comment"]["body"] = "/gitops-bot recheck"
    data["sender"]["login"] = "mallory"
    code, answer = loop.deliver("issue_comment", data)
    assert code == 202, answer
    loop.work()
    bodies = [c["body"] for c in loop.comments()]
    assert any("needs write access" in b for b in bodies)
    assert len(loop.statuses(head)) == 2  # no new review ran


def test_fork_is_reviewed_without_credentials_by_default(loop: Loop) -> None:
    head, base = loop.head("change"), loop.head("main")
    loop.forge.add_pull(
        REPO,
        1,
        head_sha=head,
        base_sha=base,
        fork="mallory/Hello-World",
        files=["apps/web/deployment.yaml"],
    )
    assert loop.deliver("pull_request", pr_payload("opened", head, base, fork=True))[0] == 202
    loop.work()
    assert loop.statuses(head)[-1]["state"] == "failure"  # the schema error is still found
    assert "spec.replicas" in loop.comments()[0]["body"]


def test_worker_killed_mid_review_completes_once_after_restart(tmp_path: Path) -> None:
    """kill -9 of a real `gitops-bot worker` while it renders; a new worker finishes the
    review: exactly one comment and one final status (docs/security.md#case-99)."""
    from tests.web.procs import bot_process, env_for, stop, wait_for

    forge = GitHubServer()
    forge.tokens[TOKEN] = "gitops-bot"
    forge.start()
    remotes = tmp_path / "remotes"
    repo = GitRepo(remotes / "Codertocat" / "Hello-World.git")
    base = repo.commit(
        {
            "charts/slow/Chart.yaml": "apiVersion: v2\nname: slow\nversion: 0.1.0\n",
            "charts/slow/values.yaml": "spin: 10\n",
            "charts/slow/templates/cm.yaml": SLOW_TEMPLATE,
        }
    )
    repo.checkout("slow", create=True)
    head = repo.commit({"charts/slow/values.yaml": "spin: 7000000\n"})  # a render of seconds
    config = Config(
        data_dir=tmp_path / "data",
        github_api_url=forge.url,
        github_token=Secret(TOKEN),
        github_webhook_secret=Secret(SECRET),
        github_write_spacing=0,
        repo_allowlist=("127.0.0.1/Codertocat/*",),
        job_lease_seconds=1.0,
        clone_url_template=f"file://{remotes}/{{owner}}/{{repo}}.git",
    )
    services = Services.build(config)
    server = make_server("127.0.0.1", 0, create_app(config, services), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    env = env_for(
        config,
        GITOPS_BOT_GITHUB_API_URL=forge.url,
        GITOPS_BOT_GITHUB_TOKEN=TOKEN,
        GITOPS_BOT_CLONE_URL_TEMPLATE=config.clone_url_template,
    )
    try:
        forge.add_pull(REPO, 1, head_sha=head, base_sha=base, files=["charts/slow/values.yaml"])
        body = json.dumps(pr_payload("opened", head, base)).encode()
        assert post(url, "/hooks/github", body, github_headers("pull_request", body))[0] == 202
        first = bot_process(["worker", "--workers", "1"], env)
        try:
            wait_for(
                lambda: [s for s in forge.statuses if s["state"] == "pending"],
                timeout=60,
                what="the first worker to start reviewing",
            )
            time.sleep(0.5)  # inside the slow render now
            first.kill()
            first.wait(10)
        finally:
            stop(first)
        assert not forge.issue_comments(REPO, 1)  # it died before reporting
        second = bot_process(["worker", "--workers", "1"], env)
        try:
            wait_for(
                lambda: [s for s in forge.statuses if s["state"] != "pending"],
                timeout=120,
                what="the second worker to finish the review",
            )
        finally:
            assert stop(second) == 0
        final = [s for s in forge.statuses if s["state"] != "pending"]
        assert len(final) == 1 and final[0]["sha"] == head
        [comment] = forge.issue_comments(REPO, 1)
        assert "slow/default" in comment["body"]
    finally:
        server.shutdown()
        server.server_close()
        forge.stop()
    assert forge.violations == [], forge.violations


def test_a_head_that_moves_during_the_review_gets_its_own_comment(loop: Loop) -> None:
    """docs/security.md#case-23: the author pushes B while the bot renders A. A's result
    goes to A's status only; the comment is written once, by B's own review, so it never
    mixes two heads."""
    first = open_pr(loop, "change")
    git(loop.repo, "checkout", "-q", "change")
    deploy = loop.repo / "apps/web/deployment.yaml"
    deploy.write_text(deploy.read_text().replace('replicas: "3"', "replicas: 3"))
    git(loop.repo, "commit", "-qam", "web: replicas is a number")
    git(loop.repo, "checkout", "-q", "main")
    newer = loop.head("change")
    pull = loop.forge.pulls[(REPO, 1)]
    status = loop.forge._status

    def status_then_push(call: Any) -> Any:
        reply = status(call)
        if call.body.get("state") == "pending" and call.params["sha"] == first:
            pull["head"]["sha"] = newer  # pushed while the bot renders the first head
        return reply

    # The test server's first matching route wins: put this one before its own.
    loop.forge.route("POST", "/repos/{owner}/{repo}/statuses/{sha}", status_then_push)
    loop.forge._routes.insert(0, loop.forge._routes.pop())

    loop.work()
    assert [s["state"] for s in loop.statuses(first)] == ["pending", "failure"]
    assert loop.comments() == []
    assert "review.superseded" in [e["action"] for e in loop.services.store.audit_log()]

    assert (
        loop.deliver("pull_request", pr_payload("synchronize", newer, loop.head("main")))[0] == 202
    )
    loop.work()
    [comment] = loop.comments()
    assert newer[:7] in comment["body"] and first[:7] not in comment["body"]
    assert "is not of type" not in comment["body"]
    assert [s["state"] for s in loop.statuses(newer)][0] == "pending"


def test_workspaces_are_removed_and_caches_kept_per_host_and_repository(loop: Loop) -> None:
    """docs/security.md#case-36 and #case-37: after a review no workspace is left, and the
    render cache lives under the forge host and the repository's full name."""
    open_pr(loop, "change")
    loop.work()
    assert len(loop.comments()) == 1
    data = loop.services.config.data_dir
    assert list((data / "workspaces").iterdir()) == []
    cache = data / "cache" / "127.0.0.1" / "Codertocat__Hello-World"
    assert any(cache.glob("*.json"))
    assert sorted(p.name for p in (data / "cache").iterdir()) == ["127.0.0.1"]


def test_a_late_event_for_an_old_head_reviews_the_current_head(loop: Loop) -> None:
    """Deliveries come in any order: when only an older head's event is left (the newer
    one was coalesced away), the current head still gets its review — once."""
    old, base = loop.head("main"), loop.head("main")
    head = loop.head("change")
    loop.forge.add_pull(REPO, 1, head_sha=head, base_sha=base, files=["apps/web/x.yaml"])
    assert loop.deliver("pull_request", pr_payload("synchronize", old, base))[0] == 202
    loop.work()
    assert [s["state"] for s in loop.statuses(head)] == ["pending", "failure"]
    assert loop.statuses(old) == []
    # and a second stale event does not review the same head again
    assert loop.deliver("pull_request", pr_payload("synchronize", old, base))[0] == 202
    loop.work()
    assert len(loop.statuses(head)) == 2


PVC = """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: cache, namespace: web, labels: {app.kubernetes.io/name: web}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"""


def test_a_team_approval_counts_and_the_comment_names_who_can_give_it(loop: Loop) -> None:
    """Issue 9, wrong result 5: the default policies ask for group `platform`, GitHub
    reports the team as `Codertocat/platform`; a platform member's approval showed 0 of 1."""
    git(loop.repo, "checkout", "-q", "main")
    (loop.repo / "apps/web/pvc.yaml").write_text(PVC)
    git(loop.repo, "add", "-A")
    git(loop.repo, "commit", "-qm", "web: a cache volume")
    git(loop.repo, "checkout", "-q", "-b", "drop")
    git(loop.repo, "rm", "-q", "apps/web/pvc.yaml")
    git(loop.repo, "commit", "-qm", "web: no cache volume")
    loop.forge.add_team(REPO, "platform", ["carol", "erin", "frank", "octocat"])
    for user, role in (
        ("carol", "write"),
        ("erin", "write"),
        ("dave", "write"),
        ("frank", "read"),
        ("octocat", "write"),
    ):
        loop.forge.permissions[(REPO, user)] = role
    head = open_pr(loop, "drop")
    loop.work()
    body = loop.comments()[0]["body"]
    [row] = [line for line in body.splitlines() if line.startswith("| `platform`")]
    assert "0 of 1" in row and "can approve: `carol`, `erin`" in row, row  # not the author
    assert loop.statuses(head)[-1]["state"] == "failure"

    for user in ("carol", "dave"):  # carol is in the platform team; two approvals for prod
        loop.forge.add_review(REPO, 1, user, "APPROVED", head)
    assert loop.deliver("pull_request_review", review_payload(head))[0] == 202
    loop.work()
    body = loop.comments()[0]["body"]
    [row] = [line for line in body.splitlines() if line.startswith("| `platform`")]
    assert "1 of 1" in row and "approved by `carol`" in row, row
    assert loop.statuses(head)[-1]["state"] == "success", loop.statuses(head)[-1]
