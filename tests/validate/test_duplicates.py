"""duplicate_findings: the same group/kind/namespace/name twice is an error naming both places."""

from __future__ import annotations

from pathlib import Path

from bot.model import Manifest, ObjKey, Severity
from bot.pipeline.review import ReviewOptions, review_worktree
from bot.tools import Tools
from bot.validate import duplicate_findings
from bot.validate.schemas import definitions, normalize_version, supported_versions
from bot.validate.scope import CLUSTER_SCOPED, namespaced
from tests.conftest import write_tree


def cm(
    name: str,
    namespace: str | None = None,
    api: str = "v1",
    kind: str = "ConfigMap",
    file: str = "a.yaml",
    line: int = 1,
) -> Manifest:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return Manifest({"apiVersion": api, "kind": kind, "metadata": meta}, file, line)


def test_no_duplicates_no_findings() -> None:
    assert duplicate_findings([cm("a"), cm("b"), cm("a", "other"), cm("a", kind="Secret")]) == []


def test_duplicate_names_both_locations() -> None:
    [found] = duplicate_findings(
        [
            cm("a", "ns", file="base/a.yaml", line=3),
            cm("b"),
            cm("a", "ns", file="overlay/b.yaml", line=12),
        ]
    )
    assert found.severity is Severity.ERROR and found.check == "validate"
    assert (found.file, found.line) == ("overlay/b.yaml", 12)
    assert found.object == ObjKey("", "ConfigMap", "ns", "a")
    assert (
        "ConfigMap/ns/a is defined more than once: at base/a.yaml:3 and at "
        "overlay/b.yaml:12" in found.message
    )


def test_api_version_is_not_identity_but_group_is() -> None:
    dep = cm("web", "shop", api="apps/v1", kind="Deployment", file="x.yaml", line=1)
    old = cm("web", "shop", api="apps/v1beta2", kind="Deployment", file="y.yaml", line=5)
    other_group = cm("web", "shop", api="example.com/v1", kind="Deployment")
    [found] = duplicate_findings([dep, old, other_group])
    assert "(apps)" in found.message and found.file == "y.yaml"


def test_each_repeat_is_reported_and_nameless_objects_are_left_alone() -> None:
    nameless = Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "n.yaml", 1)
    found = duplicate_findings([cm("a"), cm("a", line=5), cm("a", line=9), nameless, nameless])
    assert [f.line for f in found] == [5, 9]
    assert all("at a.yaml:1 and" in f.message for f in found)


def test_namespaced_object_without_namespace_duplicates_the_one_in_default() -> None:
    """Reproduces issue 14 item 10: `namespace: default` and no namespace were two objects
    to the bot; kubectl applies the second into `default` too, so one silently replaces
    the other. Both files are named."""
    given = cm("app", "default", file="base/cm.yaml", line=2)
    implicit = cm("app", file="extra/cm.yaml", line=7)
    [found] = duplicate_findings([given, implicit])
    assert found.object == ObjKey("", "ConfigMap", "default", "app")
    assert (found.file, found.line) == ("extra/cm.yaml", 7)
    assert found.message == (
        "ConfigMap/default/app is defined more than once: at base/cm.yaml:2 and at "
        "extra/cm.yaml:7 (no namespace: applied into default); the later one would "
        "silently replace the earlier"
    )


def test_the_targets_namespace_decides_where_a_namespaceless_object_goes() -> None:
    implicit = cm("app", file="b.yaml")
    [found] = duplicate_findings([cm("app", "shop", file="a.yaml"), implicit], namespace="shop")
    assert found.object == ObjKey("", "ConfigMap", "shop", "app")
    assert "(no namespace: applied into shop)" in found.message
    assert duplicate_findings([cm("app", "default"), implicit], namespace="shop") == []


def test_cluster_scoped_kinds_have_no_namespace_whatever_they_say() -> None:
    role = cm("admin", api="rbac.authorization.k8s.io/v1", kind="ClusterRole", file="a.yaml")
    stray = cm(
        "admin", "default", api="rbac.authorization.k8s.io/v1", kind="ClusterRole", file="b.yaml"
    )
    other = cm(
        "admin",
        "kube-system",
        api="rbac.authorization.k8s.io/v1",
        kind="ClusterRole",
        file="c.yaml",
    )
    found = duplicate_findings([role, stray, other], namespace="shop")
    assert [f.object for f in found] == [
        ObjKey("rbac.authorization.k8s.io", "ClusterRole", "", "admin")
    ] * 2
    assert [f.file for f in found] == ["b.yaml", "c.yaml"]
    assert found[0].message.startswith(
        "ClusterRole/admin (rbac.authorization.k8s.io) is defined more than once: at a.yaml:1 "
        "and at b.yaml:1 (its namespace is ignored: ClusterRole is cluster-scoped); "
    )


def test_custom_resources_follow_the_scope_of_their_crd() -> None:
    def crd(kind: str, scope: str) -> Manifest:
        return Manifest(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{kind.lower()}s.example.com"},
                "spec": {
                    "group": "example.com",
                    "scope": scope,
                    "names": {"kind": kind, "plural": f"{kind.lower()}s"},
                },
            },
            "crds.yaml",
            1,
        )

    objs = [crd("Cluster", "Cluster"), crd("Local", "Namespaced")]
    for kind in ("Cluster", "Local", "Unknown"):
        objs += [
            cm("x", "a", api="example.com/v1", kind=kind, file=f"{kind}-a.yaml"),
            cm("x", "b", api="example.com/v1", kind=kind, file=f"{kind}-b.yaml"),
        ]
    found = duplicate_findings(objs)
    # only the cluster-scoped kind is one object across namespaces; an unknown kind is
    # taken as namespaced, as most custom resources are
    assert [(f.object, f.file) for f in found] == [
        (ObjKey("example.com", "Cluster", "", "x"), "Cluster-b.yaml")
    ]


def test_builtin_scopes_agree_with_the_bundled_schemas() -> None:
    """Every cluster-scoped kind listed is a real kind of the bundled Kubernetes schemas
    (a typo would make its objects namespaced to the duplicate check)."""
    known = {
        (g.get("group", ""), g["kind"])
        for version in supported_versions()
        for body in definitions(normalize_version(version), False).values()
        for g in body.get("x-kubernetes-group-version-kind", ())
    }
    assert CLUSTER_SCOPED <= known
    assert namespaced("", "ConfigMap") and namespaced("apps", "Deployment")
    assert not namespaced("", "Namespace") and not namespaced("storage.k8s.io", "StorageClass")


def test_review_places_namespaceless_objects_where_the_deploy_would(
    tmp_path: Path, tools: Tools
) -> None:
    """Through the review: the environment's deploy namespace decides (as the deploy's
    server-side apply places objects), so `namespace: shop` and no namespace collide."""
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"
    write_tree(
        tmp_path,
        {
            ".gitops-bot.yaml": "environments:\n  prod:\n    deploy: {target: kubernetes, "
            "context: prod, namespace: shop}\napps:\n  web: {path: apps/web}\n",
            "apps/web/a.yaml": body + "  namespace: shop\n",
            "apps/web/b.yaml": body,
        },
    )
    result = review_worktree(
        tmp_path, ReviewOptions(tools=tools, server_policies=None, enforce_approvals=False)
    )
    [target] = result.targets
    assert [(f.check, f.file, f.object) for f in target.findings] == [
        ("validate", "apps/web/b.yaml", ObjKey("", "ConfigMap", "shop", "web"))
    ]
    assert (
        "at apps/web/a.yaml:1 and at apps/web/b.yaml:1 (no namespace: applied into shop)"
        in target.findings[0].message
    )
