"""The `git` target with `flux:`: promotion, then a reconcile request through the real
kubectl against the Kubernetes API test server, where a stand-in for kustomize-controller
answers the request the way Flux does (status.lastHandledReconcileAt, Ready condition)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.live.base import DeploySource
from bot.live.flux_reconcile import MANAGER, REQUESTED_AT, FluxGit, Readiness, verdict
from bot.live.gitbranch import GitBranch
from bot.live.kubectl import Kubectl
from bot.repo.repo_config import FluxReconcile
from bot.tools import Tools
from tests.kubeapi import KubeAPIServer
from tests.live.helpers import configmap, deployment, manifests, namespace, target

SOURCE = DeploySource(repo="acme/shop", sha="d" * 40, change=9, environment="prod")


def crd(kind: str, plural: str, group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }


def flux_objects(api: KubeAPIServer) -> None:
    api.create_unmanaged(crd("GitRepository", "gitrepositories", "source.toolkit.fluxcd.io"))
    api.create_unmanaged(crd("Kustomization", "kustomizations", "kustomize.toolkit.fluxcd.io"))
    api.create_unmanaged(namespace("flux-system"))
    api.create_unmanaged(
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "flux-system", "namespace": "flux-system"},
            "spec": {
                "url": "ssh://git@git.example/acme/live",
                "interval": "1m",
                "ref": {"branch": "env/prod"},
            },
        }
    )
    api.create_unmanaged(
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {
                "path": "./",
                "prune": True,
                "interval": "10m",
                "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            },
        }
    )


def controller(
    api: KubeAPIServer, remote: Path, ready: str = "True", message: str = "Applied revision"
) -> Callable[[dict[str, Any]], None]:
    """kustomize-controller's answer to a reconcile request: handle it, apply the branch
    tip, set Ready."""

    def on_write(body: dict[str, Any]) -> None:
        stamp = ((body.get("metadata") or {}).get("annotations") or {}).get(REQUESTED_AT)
        if body.get("kind") != "Kustomization" or not stamp:
            return
        tip = subprocess.run(
            ["git", "-C", str(remote), "rev-parse", "env/prod"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        body["status"] = {
            "lastHandledReconcileAt": stamp,
            "lastAppliedRevision": f"env/prod@sha1:{tip}",
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": "ReconciliationSucceeded" if ready == "True" else "BuildFailed",
                    "message": message,
                }
            ],
        }

    return on_write


@pytest.fixture
def api() -> Iterator[KubeAPIServer]:
    server = KubeAPIServer().start()
    flux_objects(server)
    yield server
    server.stop()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "live.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


def flux_git(
    api: KubeAPIServer, remote: Path, tmp_path: Path, tools: Tools, timeout: float = 30
) -> FluxGit:
    assert tools.kubectl
    kubectl = Kubectl(api.kubeconfig(tmp_path / "kubeconfig"), "test", binary=tools.kubectl)
    branch = GitBranch(str(remote), "env/prod", allowed_protocols=("file",))
    settings = FluxReconcile(context="test", kustomizations=("flux-system/apps",), timeout=timeout)
    clock = iter(range(0, 10_000, 5))
    return FluxGit(
        branch,
        kubectl,
        settings,
        interval=0,
        clock=lambda: float(next(clock)),
        sleep=lambda s: None,
        now=lambda: datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc),
    )


RENDER = {target(): manifests(namespace(), configmap(), deployment())}


def test_promotion_requests_a_reconcile_and_waits_for_ready(
    api: KubeAPIServer, remote: Path, tmp_path: Path, tools: Tools
) -> None:
    api.on_write.append(controller(api, remote))
    outcome = flux_git(api, remote, tmp_path, tools).deploy(RENDER, SOURCE)
    assert outcome.ok, outcome.failed
    assert outcome.revision and "Ready at" in outcome.message
    stamp = "2026-01-02T03:04:05.678000Z"
    for kind, name in (("GitRepository", "flux-system"), ("Kustomization", "apps")):
        body = api.get(kind, name, "flux-system")
        assert body is not None
        assert body["metadata"]["annotations"][REQUESTED_AT] == stamp
        managers = {m["manager"] for m in body["metadata"]["managedFields"]}
        assert MANAGER in managers
        assert body["spec"]  # the bot's apply set one annotation and left the rest alone
    applies = [r for r in api.calls("PATCH") if "fieldManager" in r.query]
    assert {r.query["fieldManager"][0] for r in applies} == {MANAGER}


def test_flux_failure_is_a_failed_deploy_quoting_flux(
    api: KubeAPIServer, remote: Path, tmp_path: Path, tools: Tools
) -> None:
    api.on_write.append(
        controller(api, remote, ready="False", message="kustomize build failed: no such file")
    )
    outcome = flux_git(api, remote, tmp_path, tools).deploy(RENDER, SOURCE)
    assert not outcome.ok and outcome.revision
    assert outcome.message == (
        "Flux: Kustomization flux-system/apps: Ready=False BuildFailed: "
        "kustomize build failed: no such file"
    )


def test_no_answer_from_flux_times_out(
    api: KubeAPIServer, remote: Path, tmp_path: Path, tools: Tools
) -> None:
    outcome = flux_git(api, remote, tmp_path, tools, timeout=12).deploy(RENDER, SOURCE)
    assert not outcome.ok
    assert "timed out waiting for Ready; last: Ready=Unknown" in outcome.message


def test_verdict_needs_the_request_handled_at_the_revision() -> None:
    def state(handled: str, ready: str, revision: str, reason: str = "") -> Readiness:
        return Readiness(handled, ready, reason, "", revision)

    assert verdict(state("t1", "True", "main@sha1:abc"), "t1", "abc") is True
    assert verdict(state("t0", "True", "main@sha1:abc"), "t1", "abc") is None
    assert verdict(state("t1", "True", "main@sha1:old"), "t1", "abc") is None
    assert verdict(state("t1", "False", "", "Progressing"), "t1", "abc") is None
    assert verdict(state("t1", "False", "", "HealthCheckFailed"), "t1", "abc") is False
