"""The resource table of the test API server: discovery documents and minimal OpenAPI v3.

Only legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`) is served:
kubectl asks for aggregated discovery in its Accept header and falls back to the legacy
documents when the answer is plain `application/json`, as older API servers do.
OpenAPI v3 is served only as far as kubectl needs it to see that PATCH accepts the
`fieldValidation` query parameter (then it validates server-side, not from schemas).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    """One served resource type."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def discovery(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": VERBS,
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        return entry

    def base_path(self, namespace: str | None) -> str:
        root = "/api/v1" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"


BUILTIN = (
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",)),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "Service", "services", True, ("svc",)),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    Resource("apps", "v1", "Deployment", "deployments", True, ("deploy",)),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    Resource(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
    ),
)


def crd_resources(crd: dict[str, Any]) -> list[Resource]:
    """The resource types a CustomResourceDefinition body serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for v in spec.get("versions") or []:
        if v.get("served", True):
            out.append(
                Resource(
                    str(spec.get("group")),
                    str(v.get("name")),
                    str(names.get("kind")),
                    str(names.get("plural")),
                    spec.get("scope") == "Namespaced",
                    tuple(names.get("shortNames") or ()),
                )
            )
    return out


def api_versions(port: int) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{port}"}
        ],
    }


def group_list(resources: list[Resource]) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for r in resources:
        if r.group:
            versions = groups.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
            }
            for g, vs in sorted(groups.items())
        ],
    }


def resource_list(group_version: str, resources: list[Resource]) -> dict[str, Any] | None:
    served = [r for r in resources if r.group_version == group_version]
    if not served:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [r.discovery() for r in served],
    }


def openapi_root(resources: list[Resource]) -> dict[str, Any]:
    paths = {}
    for gv in sorted({r.group_version for r in resources}):
        key = f"api/{gv}" if "/" not in gv else f"apis/{gv}"
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash=0"}
    return {"paths": paths}


def openapi_group(group_version: str, resources: list[Resource]) -> dict[str, Any] | None:
    served = [r for r in resources if r.group_version == group_version]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for r in served:
        path = r.base_path("{namespace}" if r.namespaced else None) + "/{name}"
        paths[path] = {
            "patch": {
                "x-kubernetes-group-version-kind": {
                    "group": r.group,
                    "version": r.version,
                    "kind": r.kind,
                },
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": "string"}}
                    for n in ("dryRun", "fieldManager", "fieldValidation", "force")
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
    }
