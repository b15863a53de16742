"""What is live for targets from Argo CD Applications comes from Argo CD's managed resources
(against the Argo CD API test server), and a review shows live -> head from it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Secret
from bot.errors import UserError
from bot.live.argocd import ArgoCDClient
from bot.live.argocd_live import ArgoCDLive
from bot.model import DiffStatus, Manifest, Target
from bot.pipeline.change import review_change
from bot.pipeline.review import ReviewOptions
from bot.repo import options
from bot.tools import Tools
from tests.argocdapi import ArgoCDServer
from tests.conftest import GitRepo
from tests.live.helpers import configmap, deployment

TOKEN = "argocd-test-token"


@pytest.fixture
def argo() -> Iterator[ArgoCDServer]:
    server = ArgoCDServer(TOKEN).start()
    yield server
    server.stop()


def app_target(name: str = "guestbook", app: str = "guestbook") -> Target:
    return Target(
        app=name,
        environment="in-cluster/shop",
        renderer="plain",
        path="guestbook",
        options=options.encode({"argocd": {"application": app, "namespace": "argocd"}}),
    )


def secret(value: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "data": {"password": base64.b64encode(value.encode()).decode()},
    }


def test_live_objects_are_argocd_managed_resources(argo: ArgoCDServer) -> None:
    argo.add("guestbook").live = [deployment(replicas=1), configmap("settings"), secret("old-pw")]
    live = ArgoCDLive(ArgoCDClient(argo.url, Secret(TOKEN)))
    other = Target(app="web", environment="in-cluster/shop", renderer="plain", path="web")
    desired = {
        "guestbook/in-cluster/shop": [Manifest(deployment(replicas=2)), Manifest(secret("new-pw"))]
    }
    read = live.read([app_target(), other], desired)
    assert set(read) == {"guestbook/in-cluster/shop"}  # no fallback: the other has no live
    bodies = {m.key.name: m.body for m in read["guestbook/in-cluster/shop"]}
    assert bodies["web"]["spec"]["replicas"] == 1
    # masked by Argo CD: the rendered value stands in, the key set is what Argo CD shows
    assert bodies["db"]["data"] == secret("new-pw")["data"]
    [(method, path, _, _)] = [r for r in argo.requests if "managed-resources" in r[1]]
    assert (method, path) == ("GET", "/api/v1/applications/guestbook/managed-resources")


def test_unknown_application_is_an_error(argo: ArgoCDServer) -> None:
    live = ArgoCDLive(ArgoCDClient(argo.url, Secret(TOKEN)))
    with pytest.raises(UserError, match="not found"):
        live.read([app_target(app="missing")])


APPLICATION = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://git.example/acme/shop.git
    targetRevision: HEAD
    path: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
"""
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
"""


def test_review_shows_live_to_head_as_argocd_sees_it(
    argo: ArgoCDServer, tools: Tools, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    base = repo.commit({"argocd/guestbook.yaml": APPLICATION, "guestbook/web.yaml": DEPLOY % 2})
    repo.checkout("scale", create=True)
    head = repo.commit({"guestbook/web.yaml": DEPLOY % 4})
    live_web = dict(__import__("yaml").safe_load(DEPLOY % 3))
    argo.add("guestbook").live = [live_web]
    client = ArgoCDClient(argo.url, Secret(TOKEN))
    opts = ReviewOptions(
        tools=tools,
        cache_dir=tmp_path / "cache",
        server_policies=None,
        enforce_approvals=False,
        validator="embedded",
        repo_urls=("https://git.example/acme/shop",),
        live_for=lambda env: ArgoCDLive(client),
    )
    result = review_change(repo.path, base, head, opts)
    [target] = [t for t in result.targets if t.target.app == "guestbook"]
    assert target.target.environment == "in-cluster/shop"
    assert target.live_diffs is not None
    [diff] = [d for d in target.live_diffs if d.status is DiffStatus.CHANGED]
    assert diff.changed_fields == ("spec.replicas",)
    assert "-  replicas: 3" in diff.diff and "+  replicas: 4" in diff.diff
    [drift] = target.drift  # base (2) against live (3): drift that predates the change
    assert drift.changed_fields == ("spec.replicas",)
