"""A realistic review for the report's golden files: a shared base and an overlay change two
environments identically, a generated ConfigMap gets a new hash suffix, production loses a
volume claim, a chart renders identically, old problems stay old and new ones are new."""

from __future__ import annotations

from typing import Any

from bot.dangerous import detect
from bot.diff import diff_manifests, normalize
from bot.model import (
    ApprovalRequirement,
    Finding,
    Manifest,
    ObjKey,
    ReviewResult,
    Severity,
    State,
    Target,
    TargetResult,
)
from bot.novelty import mark_new
from bot.pairing import pair_renames

BASE = "0123456789abcdef0123456789abcdef01234567"
HEAD = "fedcba9876543210fedcba9876543210fedcba98"
PROPERTIES = (
    "server.port=8080\nlog.level=info\ncache.size=64\nfeature.search=false\nfeature.checkout=true\n"
)


def deployment(ns: str, image: str) -> Manifest:
    return Manifest(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": ns,
                "labels": {"app.kubernetes.io/name": "web"},
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": image,
                                "envFrom": [{"configMapRef": {"name": "web-config"}}],
                            }
                        ]
                    },
                },
            },
        },
        "apps/web/base/deployment.yaml",
        1,
    )


def config(ns: str, suffix: str, properties: str) -> Manifest:
    return Manifest(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"web-config-{suffix}", "namespace": ns},
            "data": {"app.properties": properties},
        },
        "apps/web/base/kustomization.yaml",
        None,
    )


def service(ns: str) -> Manifest:
    return Manifest(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
        "apps/web/base/service.yaml",
        1,
    )


def pvc(ns: str) -> Manifest:
    return Manifest(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "uploads", "namespace": ns},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "10Gi"}},
            },
        },
        "apps/web/overlays/production/pvc.yaml",
        1,
    )


def label(m: Manifest, old: bool = True) -> Finding:
    return Finding(
        Severity.ERROR,
        "policy",
        f"{m.kind}/{m.key.name}: missing the label app.kubernetes.io/name",
        m.file,
        m.line,
        m.key,
        "main.deny",
        new=not old,
    )


def _target(
    target: Target,
    before: list[Manifest],
    after: list[Manifest],
    base_findings: list[Finding],
    head_findings: list[Finding],
    changed: tuple[str, ...],
) -> TargetResult:
    renames = pair_renames(before, after, normalize)
    findings = mark_new(head_findings, base_findings, renames)
    state = (
        State.FAILURE
        if any(f.new and f.severity is Severity.ERROR for f in findings)
        else State.SUCCESS
    )
    return TargetResult(
        target,
        state,
        tuple(diff_manifests(before, after, renames=renames)),
        tuple(findings),
        dangers=tuple(detect(before, after, normalize, renames)),
        changed_inputs=changed,
    )


def web(env: str, extra: int = 0) -> TargetResult:
    ns = f"web-{env}"
    target = Target("web", env, "kustomize", f"apps/web/overlays/{env}", namespace=ns)
    before = [
        deployment(ns, "ghcr.io/example/web:1.4.2"),
        config(ns, "5g7h8k9m2t", PROPERTIES),
        service(ns),
    ]
    after = [
        deployment(ns, "ghcr.io/example/web:latest"),
        config(ns, "9b8c7d6f5g", PROPERTIES.replace("cache.size=64", "cache.size=128")),
        service(ns),
    ]
    if env == "production":
        before.append(pvc(ns))
    old = [label(service(ns)), label(config(ns, "5g7h8k9m2t", ""))]
    old += [
        Finding(
            Severity.WARNING,
            "policy",
            f"Deployment/web: container sidecar-{i} has no CPU limit",
            "apps/web/base/deployment.yaml",
            1,
            deployment(ns, "").key,
            "main.warn",
        )
        for i in range(extra)
    ]
    new = [
        label(service(ns)),
        label(config(ns, "9b8c7d6f5g", "")),
        Finding(
            Severity.ERROR,
            "policy",
            "Deployment/web: container web uses the mutable "
            "tag :latest (ghcr.io/example/web:latest); pin a version or a digest",
            "apps/web/base/deployment.yaml",
            1,
            deployment(ns, "").key,
            "main.deny",
        ),
    ]
    new += old[2:]
    changed: tuple[str, ...] = ("apps/web/base/app.properties", "apps/web/base/deployment.yaml")
    if env == "production":
        changed += ("apps/web/overlays/production/kustomization.yaml",)
    return _target(target, before, after, old, new, changed)


def shop() -> TargetResult:
    target = Target(
        "shop",
        "production",
        "helm",
        "charts/shop",
        values=("charts/shop/values-production.yaml",),
        release="shop",
    )
    objs = [deployment("shop", "ghcr.io/example/shop:2.1.0")]
    return _target(target, objs, objs, [], [], ("charts/shop/values.yaml",))


def quiet_review(extra: int = 0) -> ReviewResult:
    """The review of a change to a shared base, an overlay and a chart's values."""
    staging, production = web("staging", extra), web("production", extra)
    [danger] = [d for d in production.dangers if d.kind == "delete"]
    denial = Finding(
        Severity.ERROR,
        "policy",
        f"web/production: {danger.message}; needs an approval from the platform team",
        danger.file,
        danger.line,
        danger.object,
        "gitops.change.deny_dangerous",
    )
    return ReviewResult(
        BASE,
        HEAD,
        (staging, production, shop()),
        (denial,),
        (),
        (
            ApprovalRequirement("*", 2, "changes production (web/production)", ("alice",)),
            ApprovalRequirement("platform", 1, f"dangerous: {danger.message}", ()),
        ),
    )


def many_rules(count: int) -> ReviewResult:
    """One target with `count` new findings of one rule and diffs of three kinds."""
    result = quiet_review()
    staging = result.targets[0]
    key = ObjKey("apps", "Deployment", "web-staging", "web")
    extra = tuple(
        Finding(
            Severity.ERROR,
            "validate",
            f"Deployment/web: spec.template.spec."
            f"containers[{i}].ports[0].containerPort: 'http{i}' is not of type "
            "'integer'",
            "apps/web/base/deployment.yaml",
            1,
            key,
        )
        for i in range(count)
    )
    changed: dict[str, Any] = {"findings": staging.findings + extra, "state": State.FAILURE}
    return ReviewResult(BASE, HEAD, (TargetResult(**{**staging.__dict__, **changed}),))
