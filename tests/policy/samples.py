"""Manifests, policy folders and change inputs shared by the policy tests and bench/policy.py."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from bot.model import Danger, DiffStatus, Manifest, ObjectDiff, ObjKey, State, Target, TargetResult
from bot.policy import ChangeInfo, Review, build_change_input

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POLICIES = ROOT / "policies"
LIBRARIES = ROOT / "tests" / "fixtures" / "policy-libraries"
CONFTEST = LIBRARIES / "open-policy-agent--conftest" / "examples"
INSTRUMENTA = LIBRARIES / "instrumenta--policies"


def load_manifests(path: Path, rel: str | None = None) -> list[Manifest]:
    """Every YAML document of a file, with its 1-based start line."""
    text = path.read_text()
    manifests: list[Manifest] = []
    line = 1
    for chunk in text.split("\n---\n"):
        body = yaml.safe_load(chunk)
        if body:
            lead = len(chunk) - len(chunk.lstrip("\n"))
            manifests.append(Manifest(body, rel or path.name, line + lead))
        line += chunk.count("\n") + 2
    return manifests


CONTAINER: dict[str, Any] = {
    "name": "web",
    "image": "ghcr.io/example/web:1.4.2",
    "resources": {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    },
    "securityContext": {"runAsNonRoot": True},
}
GOOD_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [CONTAINER]}},
    },
}


def deployment(name: str = "web", **pod_spec: Any) -> dict[str, Any]:
    """A Deployment that passes the default policies, with pod spec fields replaced."""
    body = copy.deepcopy(GOOD_DEPLOYMENT)
    body["metadata"]["name"] = name
    body["spec"]["template"]["spec"].update(copy.deepcopy(pod_spec))
    return body


def mixed_objects(count: int) -> list[Manifest]:
    """`count` objects of several kinds, about a third of them breaking some policy."""
    kinds = [
        lambda i: deployment(f"web-{i}"),
        lambda i: deployment(f"bad-{i}", containers=[dict(CONTAINER, image="nginx:latest")]),
        lambda i: {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"svc-{i}", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"ports": [{"port": 80}]},
        },
        lambda i: {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}"},
            "data": {"a": "1"},
        },
        lambda i: deployment(
            f"root-{i}", hostNetwork=True, containers=[{"name": "c", "image": "busybox:1.36"}]
        ),
    ]
    return [Manifest(kinds[i % len(kinds)](i), f"apps/shop/obj-{i}.yaml", 1) for i in range(count)]


def target_result(
    app: str, env: str, diffs: list[tuple[str, str, str, DiffStatus]], state: State = State.SUCCESS
) -> TargetResult:
    """A TargetResult with diffs given as (group, kind, name, status)."""
    return TargetResult(
        Target(app, env, "plain", f"apps/{app}/{env}", namespace=app),
        state,
        tuple(
            ObjectDiff(
                ObjKey(g, k, app if k != "ClusterRole" else "", n),
                s,
                changed_fields=("spec",) if s is DiffStatus.CHANGED else (),
                file=f"apps/{app}/{env}/{n}.yaml",
                line=1,
            )
            for g, k, n, s in diffs
        ),
    )


PVC_DELETED = Danger(
    "delete",
    "PersistentVolumeClaim/shop/data is deleted: the volume's data is lost",
    "error",
    ObjKey("", "PersistentVolumeClaim", "shop", "data"),
    file="apps/shop/staging/data.yaml",
    line=1,
)


def sample_change_input() -> dict[str, Any]:
    """A change input touching production, a ClusterRole and a deleted volume claim."""
    targets = [
        target_result("shop", "production", [("apps", "Deployment", "web", DiffStatus.CHANGED)]),
        dataclasses.replace(
            target_result(
                "shop",
                "staging",
                [
                    ("rbac.authorization.k8s.io", "ClusterRole", "admin", DiffStatus.CREATED),
                    ("", "PersistentVolumeClaim", "data", DiffStatus.DELETED),
                ],
            ),
            dangers=(PVC_DELETED,),
        ),
        target_result(
            "platform",
            "staging",
            [("rbac.authorization.k8s.io", "ClusterRole", "view", DiffStatus.CHANGED)],
        ),
    ]
    info = ChangeInfo(
        "alice",
        "b" * 40,
        "h" * 40,
        labels=("shop",),
        changed_files=("apps/shop/production/web.yaml",),
        number=7,
    )
    reviews = [
        Review("bob", "APPROVED", "h" * 40, ("platform",)),
        Review("carol", "APPROVED", "h" * 40, ()),
    ]
    return build_change_input(targets, info, reviews)
