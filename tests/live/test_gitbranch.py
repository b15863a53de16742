"""The `git` target end to end with real git and a bare remote made by the test."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Secret
from bot.errors import Transient
from bot.live.base import DeploySource, EmptyRenderRefused, UnsafeObject, drift
from bot.live.gitbranch import GitBranch, GitCredentials
from bot.model import DiffStatus, ObjKey
from tests.conftest import git
from tests.live.helpers import (
    cluster_role,
    configmap,
    deployment,
    manifests,
    namespace,
    secret,
    target,
)

SOURCE = DeploySource(repo="acme/shop", sha="a" * 40, change=12, environment="prod")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "env.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def branch(remote: Path, **kw: Any) -> GitBranch:
    return GitBranch(str(remote), "env/prod", "deploy", allowed_protocols=("file",), **kw)


def files(remote: Path, ref: str = "env/prod") -> dict[str, str]:
    names = git(remote, "ls-tree", "-r", "--name-only", ref).splitlines()
    return {n: git(remote, "show", f"{ref}:{n}") for n in names}


def commits(remote: Path, ref: str = "env/prod") -> int:
    return int(git(remote, "rev-list", "--count", ref))


def test_deploy_writes_one_file_per_object(remote: Path) -> None:
    rendered = {target(): manifests(namespace(), configmap(), deployment(), cluster_role())}
    outcome = branch(remote).deploy(rendered, SOURCE)
    assert outcome.ok and outcome.summary() == "4 objects changed, 0 pruned; 0 failed"
    on_branch = files(remote)
    assert sorted(on_branch) == [
        "deploy/shop/_cluster/ClusterRole.rbac.authorization.k8s.io/shop-reader.yaml",
        "deploy/shop/_cluster/Namespace.core/shop.yaml",
        "deploy/shop/shop/ConfigMap.core/web.yaml",
        "deploy/shop/shop/Deployment.apps/web.yaml",
    ]
    body = yaml.safe_load(on_branch["deploy/shop/shop/Deployment.apps/web.yaml"])
    assert body == deployment()
    text = on_branch["deploy/shop/shop/ConfigMap.core/web.yaml"]
    assert text.splitlines()[0] == "apiVersion: v1"  # keys sorted
    assert outcome.revision == git(remote, "rev-parse", "env/prod")
    message = git(remote, "log", "-1", "--format=%B", "env/prod")
    for part in ("acme/shop", "a" * 40, "Change: 12", "Environment: prod"):
        assert part in message


def test_same_source_twice_makes_one_commit(remote: Path) -> None:
    rendered = {target(): manifests(namespace(), configmap())}
    first = branch(remote).deploy(rendered, SOURCE)
    second = branch(remote).deploy(rendered, SOURCE)
    assert commits(remote) == 1
    assert second.revision == first.revision
    assert second.applied == () and len(second.unchanged) == 2
    assert second.summary() == "0 objects changed, 0 pruned; 0 failed"


def test_object_that_left_the_render_is_removed(remote: Path) -> None:
    branch(remote).deploy({target(): manifests(namespace(), configmap(), deployment())}, SOURCE)
    other = {target("billing"): manifests(configmap("billing", "billing"))}
    branch(remote).deploy(other, SOURCE)
    outcome = branch(remote).deploy({target(): manifests(namespace(), deployment())}, SOURCE)
    assert outcome.pruned == (ObjKey("", "ConfigMap", "shop", "web"),)
    assert "deploy/shop/shop/ConfigMap.core/web.yaml" not in files(remote)
    # another app on the same branch is untouched
    assert "deploy/billing/billing/ConfigMap.core/billing.yaml" in files(remote)


@pytest.mark.parametrize(
    "meta",
    [
        {"name": "../../x", "namespace": "shop"},
        {"name": "a/b", "namespace": "shop"},
        {"name": "", "namespace": "shop"},
        {"name": ".hidden", "namespace": "shop"},
        {"name": "ok", "namespace": "../etc"},
        {"name": "ok", "namespace": ".git"},
    ],
)
def test_hostile_names_refused_before_any_write(remote: Path, meta: dict[str, str]) -> None:
    hostile = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    with pytest.raises(UnsafeObject):
        branch(remote).deploy({target(): manifests(configmap(), hostile)}, SOURCE)
    assert git(remote, "for-each-ref") == ""  # nothing pushed, not even the good object


def test_hostile_kind_and_app_refused(remote: Path) -> None:
    with pytest.raises(UnsafeObject):
        branch(remote).deploy(
            {
                target(): manifests(
                    {"apiVersion": "v1", "kind": "../Pod", "metadata": {"name": "x"}}
                )
            },
            SOURCE,
        )
    with pytest.raises(UnsafeObject):
        branch(remote).deploy({target("../x"): manifests(configmap())}, SOURCE)
    with pytest.raises(UnsafeObject):
        GitBranch(str(remote), "env/prod", "../up", allowed_protocols=("file",))
    assert git(remote, "for-each-ref") == ""


def test_branch_moved_meanwhile_is_transient_and_pushes_nothing(remote: Path) -> None:
    first = branch(remote)
    first.deploy({target(): manifests(namespace())}, SOURCE)
    with first.prepare({target(): manifests(namespace(), configmap())}, SOURCE) as promotion:
        # another deploy lands between our fetch and our push
        moved = (
            branch(remote)
            .deploy({target("billing"): manifests(configmap("b", "b"))}, SOURCE)
            .revision
        )
        with pytest.raises(Transient):
            promotion.publish()
    assert git(remote, "rev-parse", "env/prod") == moved
    assert "deploy/shop/shop/ConfigMap.core/web.yaml" not in files(remote)
    # the retry starts from the new head and keeps both writes
    branch(remote).deploy({target(): manifests(namespace(), configmap())}, SOURCE)
    assert {
        "deploy/billing/b/ConfigMap.core/b.yaml",
        "deploy/shop/shop/ConfigMap.core/web.yaml",
    } <= set(files(remote))


def test_new_branch_must_not_exist_yet(remote: Path) -> None:
    first = branch(remote)
    with first.prepare({target(): manifests(namespace())}, SOURCE) as promotion:
        branch(remote).deploy({target("billing"): manifests(namespace("b"))}, SOURCE)
        with pytest.raises(Transient):
            promotion.publish()
    assert "deploy/shop/_cluster/Namespace.core/shop.yaml" not in files(remote)


def test_empty_render_refused_when_objects_exist(remote: Path) -> None:
    branch(remote).deploy({target(): manifests(namespace(), configmap())}, SOURCE)
    with pytest.raises(EmptyRenderRefused):
        branch(remote).deploy({target(): []}, SOURCE)
    assert commits(remote) == 1
    outcome = branch(remote, allow_empty=True).deploy({target(): []}, SOURCE)
    assert len(outcome.pruned) == 2 and files(remote) == {}


def test_live_read_round_trips_and_drift(remote: Path) -> None:
    desired = manifests(namespace(), configmap(), deployment(), secret())
    live_state = branch(remote)
    assert live_state.read([target()]) == {"shop/prod": []}  # no branch yet
    live_state.deploy({target(): desired}, SOURCE)
    live = live_state.read([target(), target("billing")])
    assert live["billing/prod"] == []
    assert sorted(m.key for m in live["shop/prod"]) == sorted(m.key for m in desired)
    assert {m.key: dict(m.body) for m in live["shop/prod"]} == {m.key: m.body for m in desired}
    assert (live["shop/prod"][0].file or "").startswith("deploy/shop/")
    assert drift({"shop/prod": desired}, {"shop/prod": live["shop/prod"]}) == {"shop/prod": []}
    changed = manifests(namespace(), configmap(mode="debug"), deployment(), secret())
    result = drift({"shop/prod": changed}, live)["shop/prod"]
    assert [(d.key.kind, d.status, d.changed_fields) for d in result] == [
        ("ConfigMap", DiffStatus.CHANGED, ("data.mode",))
    ]


def test_unreachable_remote_is_live_unavailable(tmp_path: Path) -> None:
    from bot.live.base import LiveUnavailable

    gone = GitBranch(str(tmp_path / "missing.git"), "env/prod", allowed_protocols=("file",))
    with pytest.raises(LiveUnavailable):
        gone.read([target()])


def test_protocols_outside_the_allowlist_refused(remote: Path) -> None:
    from bot.live.base import LiveUnavailable

    with pytest.raises(LiveUnavailable):
        GitBranch(str(remote), "env/prod").read([target()])  # file:// not allowed by default
    with pytest.raises(Exception):
        GitBranch("ext::sh -c touch% /tmp/pwned", "env/prod").deploy(
            {target(): manifests(namespace())}, SOURCE
        )
    assert not Path("/tmp/pwned").exists()


def test_credentials_never_reach_config_or_errors(remote: Path) -> None:
    creds = GitCredentials("x-access-token", Secret("ghs_abcdefghijklmnop1234567890"))
    assert "ghs_" not in repr(creds)
    deployer = branch(remote, credentials=creds)
    deployer.deploy({target(): manifests(namespace())}, SOURCE)  # header unused for file://
    with pytest.raises(Exception) as info:
        GitBranch("https://127.0.0.1:9/none.git", "env/prod", credentials=creds, timeout=20).deploy(
            {target(): manifests(namespace())}, SOURCE
        )
    assert "ghs_abcdefghijklmnop" not in str(info.value)
    with pytest.raises(Exception):
        GitBranch("https://user:pw@example.com/x.git", "env/prod")
