"""Deploy helpers shared by the deploy e2e tests and the fault-injection suite: a reviewed,
approved change, its merge, the push delivery, and what an environment branch holds."""

from __future__ import annotations

import json
from typing import Any

from bot.gitrepo import GitSnapshot
from bot.render.sandbox import Budgets
from bot.render.yamlload import load_manifests
from tests.conftest import git
from tests.e2e.loop import REPO, Loop, pr_payload
from tests.web.hookclient import fixture

DEPLOY = "gitops-bot/deploy"


def push_payload(before: str, after: str, branch: str = "main") -> dict[str, Any]:
    data = json.loads(fixture("github/push/with-new-branch.payload.json"))
    data.update(
        ref=f"refs/heads/{branch}",
        before=before,
        after=after,
        created=False,
        deleted=False,
        forced=False,
    )
    return data


def env_objects(loop: Loop, environment: str) -> dict[str, dict[str, Any]]:
    """The objects on an environment branch of the remote, by file path."""
    sha = git(loop.repo, "rev-parse", f"env/{environment}")
    snap = GitSnapshot(loop.repo, sha)
    try:
        out = {}
        for path in snap.files:
            [manifest], _ = load_manifests(snap.read(path) or b"", path, Budgets())
            out[path] = dict(manifest.body)
        return out
    finally:
        snap.close()


def reviewed_change(
    loop: Loop,
    number: int,
    branch: str,
    files: dict[str, str],
    approvers: tuple[str, ...] = ("alice", "bob"),
) -> str:
    """A change on `branch`, reviewed by the bot with approvals on its head; returns head."""
    git(loop.repo, "checkout", "-q", "-b", branch, "main")
    for path, text in files.items():
        (loop.repo / path).write_text(text)
    git(loop.repo, "commit", "-qam", f"change {number}")
    head, base = loop.head(branch), loop.head("main")
    git(loop.repo, "checkout", "-q", "main")
    loop.forge.add_pull(
        REPO, number, head_sha=head, base_sha=base, author="octocat", files=list(files)
    )
    for user in approvers:
        loop.forge.permissions[(REPO, user)] = "write"
        loop.forge.add_review(REPO, number, user, "APPROVED", head)
    assert loop.deliver("pull_request", pr_payload("opened", head, base, number))[0] == 202
    loop.work()
    assert loop.statuses(head)[-1]["state"] == "success", loop.comments(number)[-1]["body"]
    return head


def merge(loop: Loop, number: int, branch: str) -> tuple[str, str]:
    """Merge `branch` into main with a merge commit; returns (before, after)."""
    before = loop.head("main")
    git(loop.repo, "merge", "-q", "--no-ff", "-m", f"Merge #{number}", branch)
    after = loop.head("main")
    loop.forge.merge_pull(REPO, number, after)
    return before, after


def deploy_statuses(loop: Loop, sha: str) -> list[str]:
    return [s["state"] for s in loop.forge.statuses if s["sha"] == sha and s["context"] == DEPLOY]
