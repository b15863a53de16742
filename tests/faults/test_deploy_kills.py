"""A deploy worker killed (SIGKILL) while it renders the merge, just before its push to the
environment branch, and just after it (before anything was recorded or reported). A
healthy worker then finishes: each environment branch gets the reviewed merge exactly
once, one forge deployment and one comment per environment, nothing unreviewed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import markers
from tests.conftest import git
from tests.e2e.deploys import deploy_statuses, merge, push_payload, reviewed_change
from tests.e2e.loop import REPO
from tests.faults.harness import GRACE, LEASE, Rig, rig

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
ENVIRONMENTS = ("staging", "production")


@pytest.mark.parametrize("fault", ["run:helm template", "before_push", "after_push"])
def test_deploy_worker_killed_at_each_step(tmp_path: Path, fault: str) -> None:
    with rig(tmp_path) as r:
        head = reviewed_change(
            r.loop, 1, "scale", {"charts/shop/values-production.yaml": "replicas: 4\n"}
        )
        before, after = merge(r.loop, 1, "scale")
        assert r.loop.deliver("push", push_payload(before, after))[0] == 202
        _, killed_at = r.kill_at(fault)
        elapsed = r.finish(killed_at)
        assert elapsed <= LEASE + GRACE
        assert_deployed_once(r, after, head)
        r.check()


def assert_deployed_once(r: Rig, merged: str, head: str) -> None:
    """Each environment holds exactly one deploy commit, of the reviewed merge."""
    store = r.loop.services.store
    for environment in ENVIRONMENTS:
        log = git(r.loop.repo, "log", "--format=%B%x00", f"env/{environment}").split("\0")
        commits = [c for c in log if c.strip()]
        assert len(commits) == 1 and merged in commits[0] and "Change: 1" in commits[0]
        done = [d for d in store.deployments(repo=REPO, environment=environment)]
        assert [d.state for d in done] == ["succeeded"] and done[0].sha == merged
        made = [d for d in r.loop.forge.deployments.values() if d["environment"] == environment]
        assert len(made) == 1, made
    run = store.get_run("github", r.loop.services.config.github_host, REPO, 1, head)
    assert run is not None and run.state == "success"  # nothing unreviewed went out
    assert deploy_statuses(r.loop, merged).count("success") == 2
    assert "failure" not in deploy_statuses(r.loop, merged)
    deploys = [
        c for c in r.loop.comments(1) if markers.kind_of(markers.first_line(c["body"])) == "deploy"
    ]
    assert sorted(markers.first_line(c["body"]) for c in deploys) == sorted(
        markers.deploy(e) for e in ENVIRONMENTS
    )
