"""Deploy on merge end to end (git target): only reviewed, approved merges reach the
environment branches, newest merge wins, redeliveries deploy nothing twice, a revert rolls
back. Real git repositories, the GitHub test server, signed webhook deliveries."""

from __future__ import annotations

from tests.conftest import git
from tests.e2e.deploys import (
    DEPLOY,
    deploy_statuses,
    env_objects,
    merge,
    push_payload,
    reviewed_change,
)
from tests.e2e.loop import REPO, Loop, open_pr, pr_payload


def test_merge_deploys_exactly_the_merged_render_once(loop: Loop) -> None:
    reviewed_change(loop, 1, "scale", {"charts/shop/values-production.yaml": "replicas: 4\n"})
    before, after = merge(loop, 1, "scale")
    body = push_payload(before, after)
    assert loop.deliver("push", body, delivery="merge-1")[0] == 202
    loop.work()
    assert deploy_statuses(loop, after) == ["success", "success"]  # staging, production
    production = env_objects(loop, "production")
    deployment = next(
        o
        for p, o in production.items()
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "shop"
    )
    assert deployment["spec"]["replicas"] == 4
    names = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in production.values())
    assert names == sorted(
        [
            "ConfigMap/shop-cache",
            "Deployment/shop",
            "Service/shop",
            "Deployment/api",
            "Service/api",
            "Deployment/web",
            "Service/web",
            "ConfigMap/web-site",
            "ConfigMap/web-banner",
        ]
    )
    commit = git(loop.repo, "log", "-1", "--format=%B", "env/production")
    assert after in commit and "Change: 1" in commit
    comment = [c["body"] for c in loop.comments(1) if "gitops-bot:deploy" in c["body"]]
    assert comment and "deployed to `production`" in " ".join(comment)
    # what was deployed was rendered afresh from the merged commit: no render cache for it
    caches = loop.services.config.data_dir / "cache"
    assert sorted(p.name for p in caches.iterdir()) == ["127.0.0.1"]  # the reviews' only

    # The same merge delivered again (a new delivery id): nothing is deployed twice.
    env_head = git(loop.repo, "rev-parse", "env/production")
    assert loop.deliver("push", body, delivery="merge-1-again")[0] == 202
    loop.work()
    assert git(loop.repo, "rev-parse", "env/production") == env_head


def test_unreviewed_direct_push_is_refused_and_audited(loop: Loop) -> None:
    before = loop.head("main")
    values = loop.repo / "charts/shop/values-production.yaml"
    values.write_text("replicas: 9\n")
    git(loop.repo, "commit", "-qam", "sneaky: straight to main")
    after = loop.head("main")
    assert loop.deliver("push", push_payload(before, after))[0] == 202
    loop.work()
    assert deploy_statuses(loop, after) == ["failure", "failure"]
    assert git(loop.repo, "branch", "--list", "env/*") == ""  # nothing was deployed
    actions = [e["action"] for e in loop.services.store.audit_log()]
    assert "deploy.refused" in actions
    refused = loop.services.store.deployments(repo=REPO)
    assert {d.state for d in refused} == {"refused"}


def test_merges_delivered_in_reverse_order_end_at_the_newer(loop: Loop) -> None:
    reviewed_change(loop, 1, "first", {"charts/shop/values-production.yaml": "replicas: 5\n"})
    b1, m1 = merge(loop, 1, "first")
    # the second change is up to date with the first (branch protection's "up to date")
    reviewed_change(loop, 2, "second", {"charts/shop/values-staging.yaml": "replicas: 2\n"})
    b2, m2 = merge(loop, 2, "second")
    assert loop.deliver("push", push_payload(b2, m2))[0] == 202  # the newer one first
    assert loop.deliver("push", push_payload(b1, m1))[0] == 202
    loop.work()
    for environment in ("staging", "production"):
        assert m2 in git(loop.repo, "log", "-1", "--format=%B", f"env/{environment}")
    assert deploy_statuses(loop, m1) == []  # superseded: never applied out of order


def test_revert_merged_through_the_normal_path_rolls_back(loop: Loop) -> None:
    reviewed_change(loop, 1, "bump", {"charts/shop/values-production.yaml": "replicas: 6\n"})
    b1, m1 = merge(loop, 1, "bump")
    assert loop.deliver("push", push_payload(b1, m1))[0] == 202
    loop.work()
    git(loop.repo, "checkout", "-q", "-b", "revert-bump", "main")
    git(loop.repo, "revert", "--no-edit", "-m", "1", m1)
    head, base = loop.head("revert-bump"), loop.head("main")
    git(loop.repo, "checkout", "-q", "main")
    loop.forge.add_pull(
        REPO,
        2,
        head_sha=head,
        base_sha=base,
        author="octocat",
        files=["charts/shop/values-production.yaml"],
    )
    for user in ("alice", "bob"):
        loop.forge.add_review(REPO, 2, user, "APPROVED", head)
    assert loop.deliver("pull_request", pr_payload("opened", head, base, 2))[0] == 202
    loop.work()
    b2, m2 = merge(loop, 2, "revert-bump")
    assert loop.deliver("push", push_payload(b2, m2))[0] == 202
    loop.work()
    shop = next(
        o
        for o in env_objects(loop, "production").values()
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "shop"
    )
    assert shop["spec"]["replicas"] == 3  # the value before the reverted change


def test_merge_skew_is_refused_only_where_the_render_differs(loop: Loop) -> None:
    """Two changes reviewed on the same base, merged one after the other: the second merge
    renders differently from its reviewed head in production (it now includes the first
    change), so production refuses it; staging renders identically and deploys."""
    reviewed_change(loop, 1, "first", {"charts/shop/values-production.yaml": "replicas: 5\n"})
    reviewed_change(loop, 2, "second", {"charts/shop/values-staging.yaml": "replicas: 2\n"})
    merge(loop, 1, "first")
    b2, m2 = merge(loop, 2, "second")
    assert loop.deliver("push", push_payload(b2, m2))[0] == 202
    loop.work()
    states = {
        s["description"].split(":")[0]: s["state"]
        for s in loop.forge.statuses
        if s["sha"] == m2 and s["context"] == DEPLOY
    }
    assert states["not deployed to production"] == "failure"
    assert any(k.startswith("deployed to staging") for k in states)


def test_drift_behind_the_bots_back_is_reported_and_healed(loop: Loop, tmp_path) -> None:
    from bot.pipeline.drift import drift_runner

    config_file = (
        (loop.repo / ".gitops-bot.yaml")
        .read_text()
        .replace("  production: {branch: main}", "  production: {branch: main, self_heal: true}")
    )
    reviewed_change(
        loop,
        1,
        "heal",
        {"charts/shop/values-production.yaml": "replicas: 4\n", ".gitops-bot.yaml": config_file},
    )
    before, after = merge(loop, 1, "heal")
    assert loop.deliver("push", push_payload(before, after))[0] == 202
    loop.work()
    runner = drift_runner(loop.services.config, loop.services.store)
    host = loop.services.config.github_host
    assert runner.run("github", host, REPO) == []  # freshly deployed: no drift

    # Someone edits both environment branches by hand.
    for environment in ("staging", "production"):
        tree = tmp_path / environment
        git(loop.repo, "worktree", "add", "-q", str(tree), f"env/{environment}")
        [path] = [
            p
            for p in tree.rglob("shop.yaml")
            if p.parent.name.startswith("Deployment") and p.relative_to(tree).parts[0] == "shop"
        ]
        path.write_text(path.read_text().replace("replicas:", "replicas: 7 #"))
        git(tree, "commit", "-qam", "hotfix by hand")
        git(loop.repo, "worktree", "remove", "--force", str(tree))

    found = {(d.environment, d.target): d for d in runner.run("github", host, REPO)}
    assert set(found) == {("staging", "shop/staging"), ("production", "shop/production")}
    for item in found.values():
        [obj] = item.as_records()
        assert obj == {
            "key": "Deployment/shop/shop",
            "status": "changed",
            "changed_fields": ["spec.replicas"],
        }
    assert found[("production", "shop/production")].healed  # self_heal: true
    assert not found[("staging", "shop/staging")].healed
    shop = next(
        o
        for o in env_objects(loop, "production").values()
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "shop"
    )
    assert shop["spec"]["replicas"] == 4  # the branch state is back
    recorded = {(r.environment, r.target): r for r in loop.services.store.latest_drift(REPO)}
    assert recorded[("production", "shop/production")].healed
    actions = [e["action"] for e in loop.services.store.audit_log()]
    assert "drift.healed" in actions and "drift.found" in actions


def test_review_shows_what_merging_does_to_what_is_live_and_drift_apart(
    loop: Loop, tmp_path
) -> None:
    reviewed_change(loop, 1, "live", {"charts/shop/values-production.yaml": "replicas: 4\n"})
    before, after = merge(loop, 1, "live")
    assert loop.deliver("push", push_payload(before, after))[0] == 202
    loop.work()
    # drift by hand on the production branch: the shop cache gets more memory
    tree = tmp_path / "wt"
    git(loop.repo, "worktree", "add", "-q", str(tree), "env/production")
    [cache] = [p for p in tree.rglob("shop-cache.yaml")]
    cache.write_text(cache.read_text().replace("64Mi", "128Mi"))
    git(tree, "commit", "-qam", "scaled by hand")
    git(loop.repo, "worktree", "remove", "--force", str(tree))

    head = reviewed_change(loop, 2, "next", {"charts/shop/values-production.yaml": "replicas: 5\n"})
    body = loop.comments(2)[-1]["body"]
    assert "Against what is live" in body
    assert "changed `Deployment/shop/shop`: `spec.replicas`" in body
    assert "Drift already live" in body
    assert "changed `ConfigMap/shop/shop-cache`: `data.maxmemory`" in body
    assert loop.statuses(head)[-1]["state"] == "success"


def test_unreadable_live_state_fails_the_review(loop: Loop) -> None:
    config = (
        (loop.repo / ".gitops-bot.yaml")
        .read_text()
        .replace(
            "  production: {branch: main}",
            "  production: {branch: main, deploy: {target: kubernetes, context: prod}}",
        )
    )
    (loop.repo / ".gitops-bot.yaml").write_text(config)
    git(loop.repo, "commit", "-qam", "production deploys to a cluster")
    git(loop.repo, "checkout", "-q", "-b", "scale", "main")
    (loop.repo / "charts/shop/values-production.yaml").write_text("replicas: 4\n")
    git(loop.repo, "commit", "-qam", "scale")
    git(loop.repo, "checkout", "-q", "main")
    head = open_pr(loop, "scale")
    loop.work()
    body = loop.comments()[-1]["body"]
    assert "live state unavailable" in body and "KUBECONFIG" in body
    assert loop.statuses(head)[-1]["state"] == "failure"
