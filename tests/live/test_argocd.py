"""The `argocd` target: promotion to a bare remote, then sync via the Argo CD test server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Secret
from bot.errors import ConfigError, Transient
from bot.live.argocd import ArgoCD, ArgoCDClient
from bot.live.base import DeploySource
from bot.live.gitbranch import GitBranch
from bot.model import ObjKey
from tests.argocdapi import ArgoCDServer
from tests.argocdapi.server import DEGRADED, HEALTHY, STUCK
from tests.conftest import git
from tests.live.helpers import configmap, deployment, manifests, namespace, target

SOURCE = DeploySource(repo="acme/shop", sha="c" * 40, change=3, environment="prod")
TOKEN = "argocd-test-token"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def argo() -> Iterator[ArgoCDServer]:
    server = ArgoCDServer(TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "env.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


def deployer(
    argo: ArgoCDServer, remote: Path, clock: FakeClock, token: str = TOKEN, timeout: float = 60
) -> ArgoCD:
    branch = GitBranch(str(remote), "env/prod", allowed_protocols=("file",))
    return ArgoCD(
        branch,
        ArgoCDClient(argo.url, Secret(token)),
        "shop-prod",
        timeout=timeout,
        interval=5,
        clock=clock,
        sleep=clock.sleep,
    )


RENDER = {target(): manifests(namespace(), configmap(), deployment())}


def test_sync_requested_with_the_branch_revision_and_waits_until_healthy(
    argo: ArgoCDServer, remote: Path
) -> None:
    argo.add("shop-prod")
    clock = FakeClock()
    outcome = deployer(argo, remote, clock).deploy(RENDER, SOURCE)
    assert outcome.ok, outcome
    head = git(remote, "rev-parse", "env/prod")
    assert outcome.revision == head
    assert argo.syncs() == [{"name": "shop-prod", "revision": head, "prune": True, "dryRun": False}]
    assert clock.sleeps == [5, 5]  # OutOfSync/Running, Synced/Progressing, Synced/Healthy
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for _, _, h, _ in argo.requests)


def test_same_source_again_syncs_the_same_revision_without_a_new_commit(
    argo: ArgoCDServer, remote: Path
) -> None:
    argo.add("shop-prod", script=HEALTHY)
    clock = FakeClock()
    first = deployer(argo, remote, clock).deploy(RENDER, SOURCE)
    second = deployer(argo, remote, clock).deploy(RENDER, SOURCE)
    assert first.revision == second.revision and second.ok and second.applied == ()
    assert git(remote, "rev-list", "--count", "env/prod") == "1"


def test_degraded_is_a_failure_naming_the_resource(argo: ArgoCDServer, remote: Path) -> None:
    argo.add(
        "shop-prod",
        script=DEGRADED,
        message="Deployment exceeded its progress deadline",
        resources=[
            {
                "group": "apps",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "status": "Synced",
                "health": {"status": "Degraded", "message": "progress deadline"},
            },
            {
                "kind": "ConfigMap",
                "namespace": "shop",
                "name": "web",
                "status": "Synced",
                "health": {"status": "Healthy"},
            },
        ],
    )
    outcome = deployer(argo, remote, FakeClock()).deploy(RENDER, SOURCE)
    assert not outcome.ok
    assert outcome.failed == (
        (ObjKey("apps", "Deployment", "shop", "web"), "Synced/Degraded: progress deadline"),
    )
    assert "health Degraded" in outcome.message
    assert ObjKey("", "ConfigMap", "shop", "web") in outcome.applied


def test_timeout_is_bounded_and_reports_the_last_status(argo: ArgoCDServer, remote: Path) -> None:
    argo.add("shop-prod", script=STUCK)
    clock = FakeClock()
    outcome = deployer(argo, remote, clock, timeout=30).deploy(RENDER, SOURCE)
    assert not outcome.ok and "timed out" in outcome.message
    assert "sync OutOfSync" in outcome.message and "health Progressing" in outcome.message
    assert sum(clock.sleeps) <= 30
    assert len(outcome.failed) == 3  # no per-resource status: every object is named


def test_operation_in_progress_waits_instead_of_failing(argo: ArgoCDServer, remote: Path) -> None:
    app = argo.add("shop-prod", script=HEALTHY)
    argo.in_progress = True
    branch = GitBranch(str(remote), "env/prod", allowed_protocols=("file",))
    head = branch.deploy(RENDER, SOURCE).revision
    assert head
    app.revision, app.steps = head, list(HEALTHY)  # auto-sync already picked it up
    assert deployer(argo, remote, FakeClock()).deploy(RENDER, SOURCE).ok


def test_bad_token_is_a_config_error_and_never_shown(argo: ArgoCDServer, remote: Path) -> None:
    argo.add("shop-prod")
    with pytest.raises(ConfigError) as info:
        deployer(argo, remote, FakeClock(), token="wrong-token-value").deploy(RENDER, SOURCE)
    assert "wrong-token-value" not in str(info.value)
    assert "wrong-token-value" not in repr(Secret("wrong-token-value"))


def test_unreachable_argocd_is_transient(remote: Path) -> None:
    branch = GitBranch(str(remote), "env/prod", allowed_protocols=("file",))
    dead = ArgoCD(branch, ArgoCDClient("http://127.0.0.1:9", Secret(TOKEN)), "shop-prod")
    with pytest.raises(Transient):
        dead.deploy(RENDER, SOURCE)
