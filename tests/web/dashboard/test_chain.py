"""Who let this in: a change reviewed (with an override by a rule's owner and two
approvals), merged and deployed by the real pipeline over HTTP; then, in headless Chromium,
the dashboard goes from the deployed commit back to the change, its review and the
approvals — and `gitops-bot audit --sha` tells the same chain."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Secret
from tests.e2e.loop import REPO, Loop, running_loop
from tests.e2e.test_deploy_loop import merge, push_payload
from tests.e2e.test_governance_loop import change, comment, owned_policy_on_main
from tests.web.dashboard.seed import DASH_TOKEN

ROOT = Path(__file__).resolve().parents[3]
Shoot = Callable[[Any, str], Path]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Loop, str, str]]:
    """(loop, reviewed head, deployed merge commit) of one change through the pipeline."""
    with running_loop(tmp_path_factory.mktemp("chain"), dashboard_token=Secret(DASH_TOKEN)) as loop:
        loop.forge.add_org_team("Codertocat", "platform", ["carol"])
        owned_policy_on_main(loop)
        head = change(loop, "vendor", "vendor.example.com/web:1.0")
        comment(loop, "carol", "/gitops-bot override main.deny_vendor -- vendor image, OPS-7")
        assert loop.statuses(head)[-1]["state"] == "success"
        before, after = merge(loop, 1, "vendor")
        assert loop.deliver("push", push_payload(before, after))[0] == 202
        loop.work()
        yield loop, head, after


@pytest.fixture
def page(browser: Any, deployed: tuple[Loop, str, str]) -> Iterator[Any]:
    context = browser.new_context(
        base_url=deployed[0].url,
        viewport={"width": 1400, "height": 900},
        http_credentials={"username": "reader", "password": DASH_TOKEN},
    )
    tab = context.new_page()
    yield tab
    context.close()


def cells(page: Any, table: str) -> list[str]:
    return [r.inner_text() for r in page.locator(f"table#{table} tbody tr").all()]


def test_from_the_deployed_commit_back_to_review_and_approvals(
    page: Any, deployed: tuple[Loop, str, str], shoot: Shoot
) -> None:
    loop, head, merged = deployed
    page.goto("/deployments")
    section = page.locator("section.env", has_text="production")
    section.locator("a.chain").first.click()
    page.wait_for_load_state()  # the click commits the navigation; the page may still be parsing
    assert page.url.endswith(f"/chain/127.0.0.1/{REPO}/{merged}")
    assert page.title() == f"Who let {merged[:12]} in · gitops-bot"
    verdict = page.locator("#verdict").inner_text()
    assert f"passing review of {head[:12]}" in verdict and "#1" in verdict
    deploys = cells(page, "deploys")
    assert len(deploys) == 2 and all("succeeded" in d and head[:12] in d for d in deploys)
    assert all("alice, bob" in d for d in deploys)
    [review] = [r for r in cells(page, "reviews") if "success" in r]
    assert "#1" in review and "server" in review and "repository" in review
    approvals = cells(page, "approvals")
    assert sorted(a.split("\t")[0] for a in approvals) == ["alice", "bob"]
    ids = {str(r["id"]) for r in loop.forge.reviews[(REPO, 1)]}
    assert all(a.split("\t")[3] in ids for a in approvals)  # the forge's review ids
    [override] = cells(page, "governance")
    assert "override" in override and "main.deny_vendor" in override and "carol" in override
    assert "vendor image, OPS-7" in override
    shoot(page, "chain")
    # The change links to its full report at the reviewed commit.
    page.locator("#verdict a", has_text="#1").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/reviews/127.0.0.1/{REPO}/1/{head}")
    assert (
        "Override: `main.deny_vendor` passed by carol for this commit only: vendor image, "
        "OPS-7" in page.locator("article.report").inner_text()
    )


def test_a_commit_nobody_reviewed_says_so(page: Any, deployed: tuple[Loop, str, str]) -> None:
    response = page.goto(f"/chain/127.0.0.1/{REPO}/{'f' * 40}")
    assert response.status == 404


def test_the_audit_command_tells_the_same_chain(deployed: tuple[Loop, str, str]) -> None:
    loop, head, merged = deployed
    env = {"PATH": "/usr/bin:/bin", "GITOPS_BOT_DATABASE_URL": loop.services.config.database}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "--repo", f"127.0.0.1/{REPO}", "--sha", merged],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{merged[:12]}: reviewed at {head[:12]}, changes #1"
    assert (
        sum("deploy succeeded to" in line and "approvers alice, bob" in line for line in lines) == 2
    )
    assert any(f"review success at {head[:12]}" in line for line in lines)
    assert any("override of main.deny_vendor" in line and "by carol" in line for line in lines)
    everything = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "--repo", REPO, "--since", "1h"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert everything.returncode == 0, everything.stderr
    kinds = [line.split("  ")[2].split(" ")[0] for line in everything.stdout.splitlines()]
    assert kinds.count("approval") >= 2 and "override" in kinds and kinds.count("deploy") == 2
