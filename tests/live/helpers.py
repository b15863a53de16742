"""Objects and targets shared by the live-layer tests."""

from __future__ import annotations

import base64
from typing import Any

from bot.model import Manifest, Target

SECRET_PLAIN = "hunter2-very-secret"
SECRET_B64 = base64.b64encode(SECRET_PLAIN.encode()).decode()


def target(app: str = "shop", env: str = "prod") -> Target:
    return Target(app=app, environment=env, renderer="plain", path=f"apps/{app}")


def namespace(name: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def configmap(name: str = "web", ns: str = "shop", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data or {"mode": "prod"},
    }


def secret(name: str = "db", ns: str = "shop", value: str = SECRET_PLAIN) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "stringData": {"password": value},
    }


def service(name: str = "web", ns: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]},
    }


def deployment(
    name: str = "web", ns: str = "shop", replicas: int = 2, image: str = "nginx:1.27"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def cluster_role(name: str = "shop-reader") -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }


def manifests(*bodies: dict[str, Any]) -> list[Manifest]:
    return [Manifest(body=b, file="apps/shop/all.yaml", line=i + 1) for i, b in enumerate(bodies)]
