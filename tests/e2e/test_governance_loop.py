"""Overrides and break-glass end to end: signed comment deliveries, authority read from the
GitHub test server (team membership) at the time of the command, the status and comment of
the head, the deploy on merge, and the append-only audit records. Real git repositories."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git
from tests.e2e.loop import REPO, Loop, pr_payload, running_loop
from tests.e2e.test_deploy_loop import DEPLOY, env_objects, merge, push_payload
from tests.web.hookclient import fixture

ORG = REPO.split("/")[0]
# A repository policy (read from the protected base) whose finding names its owners.
OWNED = """package main

import rego.v1

deny_vendor contains {"msg": msg, "owners": ["platform"]} if {
	input.kind == "Deployment"
	some c in input.spec.template.spec.containers
	startswith(c.image, "vendor.example.com/")
	msg := sprintf("%s: image %s is from the vendor registry", [input.metadata.name, c.image])
}
"""


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[Loop]:
    with running_loop(tmp_path, break_glass_group=f"{ORG}/sre") as running:
        running.forge.add_org_team(ORG, "platform", ["carol", "dan"])
        running.forge.add_org_team(ORG, "sre", ["ann", "ben"], pending=("pat",))
        yield running


def comment(loop: Loop, user: str, body: str, number: int = 1) -> None:
    data = json.loads(fixture("github/issue_comment/created.payload.json"))
    data["issue"]["number"] = number
    data["issue"]["pull_request"] = {"url": f"{loop.forge.url}/repos/{REPO}/pulls/{number}"}
    data["comment"]["body"] = body
    data["sender"]["login"] = user
    code, answer = loop.deliver("issue_comment", data)
    assert code == 202, answer
    loop.work()


def change(
    loop: Loop,
    branch: str,
    image: str,
    approvers: tuple[str, ...] = ("alice", "bob"),
    number: int = 1,
) -> str:
    """A pull request that sets the web image (policies on main judge it); its head."""
    git(loop.repo, "checkout", "-q", "-b", branch, "main")
    path = loop.repo / "apps/web/deployment.yaml"
    path.write_text(path.read_text().replace("nginxinc/nginx-unprivileged:1.27.3", image))
    git(loop.repo, "commit", "-qam", f"web: {image}")
    head, base = loop.head(branch), loop.head("main")
    git(loop.repo, "checkout", "-q", "main")
    loop.forge.add_pull(
        REPO,
        number,
        head_sha=head,
        base_sha=base,
        author="octocat",
        files=["apps/web/deployment.yaml"],
    )
    for user in approvers:
        loop.forge.permissions[(REPO, user)] = "write"
        loop.forge.add_review(REPO, number, user, "APPROVED", head)
    assert loop.deliver("pull_request", pr_payload("opened", head, base, number))[0] == 202
    loop.work()
    return head


def owned_policy_on_main(loop: Loop) -> None:
    (loop.repo / "policies").mkdir()
    (loop.repo / "policies/owned.rego").write_text(OWNED)
    git(loop.repo, "add", "-A")
    git(loop.repo, "commit", "-qm", "policies: vendor images need the platform team")


def status(loop: Loop, sha: str) -> dict[str, Any]:
    return loop.statuses(sha)[-1]


def bodies(loop: Loop, number: int = 1) -> list[str]:
    return [c["body"] for c in loop.comments(number)]


def records(loop: Loop, kind: str) -> list[Any]:
    return loop.services.store.audit_records(repo=REPO, kinds=[kind])


def test_override_by_an_owner_passes_that_rule_for_that_head_only(gov: Loop) -> None:
    owned_policy_on_main(gov)
    head = change(gov, "vendor", "vendor.example.com/web:1.0")
    assert status(gov, head)["state"] == "failure"
    review = next(b for b in bodies(gov) if b.startswith("<!-- gitops-bot:review -->"))
    assert "vendor registry" in review and "main.deny_vendor" in review

    # Not an owner: refused, nothing recorded, the status stays.
    comment(gov, "mallory", "/gitops-bot override main.deny_vendor -- we trust them")
    assert any("mallory is not a member of platform" in b for b in bodies(gov))
    assert status(gov, head)["state"] == "failure" and records(gov, "override") == []
    # The comment text claims nothing: authority is the forge's team membership.
    comment(gov, "mallory", "/gitops-bot override main.deny_vendor -- I am in @platform")
    assert records(gov, "override") == []

    comment(gov, "carol", "/gitops-bot override main.deny_vendor -- vendor image, OPS-7")
    assert status(gov, head)["state"] == "success"
    review = next(b for b in bodies(gov) if b.startswith("<!-- gitops-bot:review -->"))
    assert "overridden by carol: vendor image, OPS-7" in review
    [recorded] = records(gov, "override")
    assert (recorded.actor, recorded.sha, recorded.rule, recorded.reason) == (
        "carol",
        head,
        "main.deny_vendor",
        "vendor image, OPS-7",
    )
    assert recorded.detail["member_of"] == ["platform"]
    assert gov.forge.calls("GET", r"/orgs/Codertocat/teams/platform/memberships/carol")

    # A new push is a new head: the override does not follow it.
    git(gov.repo, "checkout", "-q", "vendor")
    (gov.repo / "apps/web/service.yaml").write_text(
        (gov.repo / "apps/web/service.yaml").read_text() + "\n"
    )
    git(gov.repo, "commit", "-qam", "web: touch")
    new = gov.head("vendor")
    git(gov.repo, "checkout", "-q", "main")
    gov.forge.pulls[(REPO, 1)]["head"]["sha"] = new
    for user in ("alice", "bob"):
        gov.forge.add_review(REPO, 1, user, "APPROVED", new)
    assert gov.deliver("pull_request", pr_payload("synchronize", new, gov.head("main")))[0] == 202
    gov.work()
    assert status(gov, new)["state"] == "failure"

    # Withdrawn before merge: the old head fails again when reviewed.
    gov.forge.pulls[(REPO, 1)]["head"]["sha"] = head
    comment(gov, "dan", "/gitops-bot override withdraw main.deny_vendor")
    assert status(gov, head)["state"] == "failure"
    assert [
        r.kind
        for r in gov.services.store.audit_records(
            repo=REPO, kinds=["override", "override.withdrawn"]
        )
    ] == ["override", "override.withdrawn"]


def test_a_rule_without_owners_cannot_be_overridden(gov: Loop) -> None:
    head = change(gov, "latest", "nginx:latest")  # the default policies' main.deny
    comment(gov, "carol", "/gitops-bot override main.deny -- just this once")
    # (the reason is escaped Markdown: the backticks show as written)
    assert any("names no owners for \\`main.deny\\`" in b for b in bodies(gov))
    assert status(gov, head)["state"] == "failure"


def test_break_glass_two_members_then_withdrawn_then_deployed(gov: Loop) -> None:
    head = change(gov, "hotfix", "nginx:latest", approvers=())  # denied, and no approvals
    assert status(gov, head)["state"] == "failure"
    glass = "/gitops-bot break-glass -- production down, INC-42"

    comment(gov, "pat", glass)  # invited to the team, not a member yet
    assert any("pat is not a member of Codertocat/sre" in b for b in bodies(gov))
    comment(gov, "ann", glass)
    assert any("Break-glass requested by ann" in b for b in bodies(gov))
    assert status(gov, head)["state"] == "failure"  # one person changes nothing
    comment(gov, "ann", "/gitops-bot break-glass confirm")
    assert any("second, different member" in b for b in bodies(gov))
    assert status(gov, head)["state"] == "failure"

    comment(gov, "ben", "/gitops-bot break-glass confirm")
    final = status(gov, head)
    assert final["state"] == "success" and final["description"] == "break-glass by ann and ben"
    loud = next(b for b in bodies(gov) if b.startswith("<!-- gitops-bot:breakglass -->"))
    assert "BREAK-GLASS IN EFFECT" in loud and "INC-42" in loud
    review = next(b for b in bodies(gov) if b.startswith("<!-- gitops-bot:review -->"))
    assert "BREAK-GLASS by ann and ben" in review

    comment(gov, "ben", "/gitops-bot break-glass withdraw")
    assert status(gov, head)["state"] == "failure"

    comment(gov, "ben", glass)
    comment(gov, "ann", "/gitops-bot break-glass confirm")
    assert status(gov, head)["description"] == "break-glass by ben and ann"
    before, after = merge(gov, 1, "hotfix")
    assert gov.deliver("push", push_payload(before, after))[0] == 202
    gov.work()
    assert [
        s["state"] for s in gov.forge.statuses if s["sha"] == after and s["context"] == DEPLOY
    ] == ["success", "success"]
    web = next(
        o
        for o in env_objects(gov, "production").values()
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "web"
    )
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:latest"
    kinds = [
        r.kind
        for r in gov.services.store.audit_records(repo=REPO)
        if r.kind.startswith("break_glass")
    ]
    assert kinds == [
        "break_glass.requested",
        "break_glass.confirmed",
        "break_glass.withdrawn",
        "break_glass.requested",
        "break_glass.confirmed",
    ]
    deploys = records(gov, "deploy")
    assert {(d.state, d.reviewed_sha) for d in deploys} == {("succeeded", head)}


def test_break_glass_never_passes_a_schema_error(gov: Loop) -> None:
    head, base = gov.head("change"), gov.head("main")  # `replicas: "3"`: a schema error
    gov.forge.add_pull(REPO, 1, head_sha=head, base_sha=base, files=["apps/web/deployment.yaml"])
    assert gov.deliver("pull_request", pr_payload("opened", head, base))[0] == 202
    gov.work()
    comment(gov, "ann", "/gitops-bot break-glass -- need it now")
    comment(gov, "ben", "/gitops-bot break-glass confirm")
    final = status(gov, head)
    assert final["state"] == "failure" and "schema" in final["description"]
    assert not final["description"].startswith("break-glass")


def test_an_unconfirmed_request_expires(tmp_path: Path) -> None:
    with running_loop(tmp_path, break_glass_group=f"{ORG}/sre", break_glass_window=1.0) as loop:
        loop.forge.add_org_team(ORG, "sre", ["ann", "ben"])
        head = change(loop, "late", "nginx:latest", approvers=())
        comment(loop, "ann", "/gitops-bot break-glass -- INC-43")
        time.sleep(1.5)
        comment(loop, "ben", "/gitops-bot break-glass confirm")
        assert any("expired after 1 second" in b for b in bodies(loop))
        assert status(loop, head)["state"] == "failure"
        assert records(loop, "break_glass.confirmed") == []
