"""Governance on GitLab end to end: break-glass by two members of a GitLab group (Note Hook
deliveries, membership read from GitLab's members API), and a merge request opened while
the bot was down, recovered by the sweep. The GitLab test server checks every request
against GitLab's documented shapes."""

from __future__ import annotations

from pathlib import Path

from bot.pipeline.sweep import sweep_loop
from tests.e2e.test_review_loop_gitlab import REPO, Loop, gitlab_loop, mr_hook, note_hook, push_fix

GROUP = "awesome_space/sre"


def comment(loop: Loop, user: str, head: str, body: str) -> None:
    data = note_hook(loop, head, body)
    data["user"]["username"] = user
    assert loop.deliver("Note Hook", data)[0] == 202
    loop.work()


def test_break_glass_by_two_group_members_on_gitlab(tmp_path: Path) -> None:
    with gitlab_loop(tmp_path, break_glass_group=GROUP) as loop:
        fixed = push_fix(loop)  # passes its checks; production approvals are missing
        loop.forge.add_mr(
            REPO, 1, sha=fixed, base_sha=loop.head("main"), files=["apps/web/deployment.yaml"]
        )
        assert loop.deliver("Merge Request Hook", mr_hook(loop, "open", fixed))[0] == 202
        loop.work()
        assert loop.last_status(fixed)["state"] == "failed"
        for user in ("ann", "ben", "cat"):
            loop.forge.user(user)
        loop.forge.access[(GROUP, "ann")] = 30
        loop.forge.access[("awesome_space", "ben")] = 40  # inherited from the parent group
        loop.forge.access[(GROUP, "cat")] = 5  # minimal access: not a member
        comment(loop, "ann", fixed, "/gitops-bot break-glass -- production down, INC-7")
        comment(loop, "cat", fixed, "/gitops-bot break-glass confirm")
        assert loop.last_status(fixed)["state"] == "failed"
        assert any(
            "cat is not a member of awesome\\_space/sre" in n["body"]  # escaped
            for n in loop.notes()
        )
        comment(loop, "ben", fixed, "/gitops-bot break-glass confirm")
        final = loop.last_status(fixed)
        assert final["state"] == "success" and final["description"] == "break-glass by ann and ben"
        assert any(
            n["body"].startswith("<!-- gitops-bot:breakglass -->")
            and "BREAK-GLASS IN EFFECT" in n["body"]
            for n in loop.notes()
        )
        assert loop.forge.calls("GET", r"/groups/awesome_space%2Fsre/members/all/\d+")


def test_a_merge_request_opened_while_down_is_reviewed_at_start(tmp_path: Path) -> None:
    with gitlab_loop(tmp_path) as loop:
        head = loop.head("change")
        loop.forge.add_mr(
            REPO, 1, sha=head, base_sha=loop.head("main"), files=["apps/web/deployment.yaml"]
        )
        assert loop.deliver("Merge Request Hook", mr_hook(loop, "open", head))[0] == 202
        loop.work()
        push_fix(loop)  # a new head, pushed while the bot was down: no delivery
        fixed = loop.forge.mrs[(REPO, 1)]["sha"]
        with sweep_loop(
            loop.services.config, loop.services.store, loop.services.queue.enqueue
        ) as sweeper:
            assert sweeper is not None and sweeper.first.wait(120)
        loop.work()
        assert loop.states(fixed) == ["pending", "failed"]  # reviewed: approvals missing
        assert "approval" in loop.last_status(fixed)["description"]
        assert loop.forge.calls("GET", r"/merge_requests$")[0].query["state"] == ["opened"]
