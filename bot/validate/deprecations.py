"""PURE: API versions Kubernetes deprecated and removed, per environment's Kubernetes version.

One table, from the Kubernetes "Deprecated API Migration Guide"
(https://kubernetes.io/docs/reference/using-api/deprecation-guide/, "Removed APIs by
release"), with the release each version was deprecated in from the Kubernetes release notes.
A removed API is an error (the API server no longer serves it: the apply fails); one that
is deprecated but still served is a warning naming its replacement and the release that
removes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.model import Finding, Manifest, Severity

CHECK = "validate"
REMOVED_RULE = "kubernetes.removed-api"
DEPRECATED_RULE = "kubernetes.deprecated-api"
GUIDE = "https://kubernetes.io/docs/reference/using-api/deprecation-guide/"


@dataclass(frozen=True)
class ApiChange:
    """`api_version` of `kinds` is deprecated in `deprecated` and not served from `removed`;
    `replacement` is the API version to use, or several `version@since` (newest first) when
    the guide names one per release range."""

    api_version: str
    kinds: tuple[str, ...]
    deprecated: str
    removed: str
    replacement: str

    def replacement_in(self, version: tuple[int, int]) -> str:
        """The newest replacement that `version` serves."""
        options = self.replacement.split(" or ")
        for option in options:
            name, _, since = option.partition("@")
            if not since or _minor(since) <= version:
                return name
        return options[-1].partition("@")[0]


TABLE: tuple[ApiChange, ...] = (
    # v1.32
    ApiChange(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        ("FlowSchema", "PriorityLevelConfiguration"),
        "1.29",
        "1.32",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    # v1.29
    ApiChange(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        ("FlowSchema", "PriorityLevelConfiguration"),
        "1.26",
        "1.29",
        "flowcontrol.apiserver.k8s.io/v1@1.29 or flowcontrol.apiserver.k8s.io/v1beta3@1.26",
    ),
    # v1.27
    ApiChange(
        "storage.k8s.io/v1beta1", ("CSIStorageCapacity",), "1.24", "1.27", "storage.k8s.io/v1"
    ),
    # v1.26
    ApiChange(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        ("FlowSchema", "PriorityLevelConfiguration"),
        "1.23",
        "1.26",
        "flowcontrol.apiserver.k8s.io/v1@1.29 or flowcontrol.apiserver.k8s.io/v1beta3@1.26 "
        "or flowcontrol.apiserver.k8s.io/v1beta2@1.23",
    ),
    ApiChange(
        "autoscaling/v2beta2", ("HorizontalPodAutoscaler",), "1.23", "1.26", "autoscaling/v2"
    ),
    # v1.25
    ApiChange("batch/v1beta1", ("CronJob",), "1.21", "1.25", "batch/v1"),
    ApiChange(
        "discovery.k8s.io/v1beta1", ("EndpointSlice",), "1.21", "1.25", "discovery.k8s.io/v1"
    ),
    ApiChange("events.k8s.io/v1beta1", ("Event",), "1.22", "1.25", "events.k8s.io/v1"),
    ApiChange(
        "autoscaling/v2beta1", ("HorizontalPodAutoscaler",), "1.22", "1.25", "autoscaling/v2"
    ),
    ApiChange("policy/v1beta1", ("PodDisruptionBudget",), "1.21", "1.25", "policy/v1"),
    ApiChange(
        "policy/v1beta1",
        ("PodSecurityPolicy",),
        "1.21",
        "1.25",
        "nothing: PodSecurityPolicy is gone; use Pod Security Admission",
    ),
    ApiChange("node.k8s.io/v1beta1", ("RuntimeClass",), "1.22", "1.25", "node.k8s.io/v1"),
    # v1.22
    ApiChange(
        "admissionregistration.k8s.io/v1beta1",
        ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"),
        "1.16",
        "1.22",
        "admissionregistration.k8s.io/v1",
    ),
    ApiChange(
        "apiextensions.k8s.io/v1beta1",
        ("CustomResourceDefinition",),
        "1.16",
        "1.22",
        "apiextensions.k8s.io/v1",
    ),
    ApiChange(
        "apiregistration.k8s.io/v1beta1",
        ("APIService",),
        "1.19",
        "1.22",
        "apiregistration.k8s.io/v1",
    ),
    ApiChange(
        "authentication.k8s.io/v1beta1",
        ("TokenReview",),
        "1.19",
        "1.22",
        "authentication.k8s.io/v1",
    ),
    ApiChange(
        "authorization.k8s.io/v1beta1",
        ("LocalSubjectAccessReview", "SelfSubjectAccessReview", "SubjectAccessReview"),
        "1.19",
        "1.22",
        "authorization.k8s.io/v1",
    ),
    ApiChange(
        "certificates.k8s.io/v1beta1",
        ("CertificateSigningRequest",),
        "1.19",
        "1.22",
        "certificates.k8s.io/v1",
    ),
    ApiChange("coordination.k8s.io/v1beta1", ("Lease",), "1.19", "1.22", "coordination.k8s.io/v1"),
    ApiChange("extensions/v1beta1", ("Ingress",), "1.14", "1.22", "networking.k8s.io/v1"),
    ApiChange(
        "networking.k8s.io/v1beta1",
        ("Ingress", "IngressClass"),
        "1.19",
        "1.22",
        "networking.k8s.io/v1",
    ),
    ApiChange(
        "rbac.authorization.k8s.io/v1beta1",
        ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"),
        "1.17",
        "1.22",
        "rbac.authorization.k8s.io/v1",
    ),
    ApiChange(
        "scheduling.k8s.io/v1beta1", ("PriorityClass",), "1.14", "1.22", "scheduling.k8s.io/v1"
    ),
    ApiChange(
        "storage.k8s.io/v1beta1",
        ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"),
        "1.19",
        "1.22",
        "storage.k8s.io/v1",
    ),
    # v1.16
    ApiChange("extensions/v1beta1", ("NetworkPolicy",), "1.9", "1.16", "networking.k8s.io/v1"),
    ApiChange(
        "extensions/v1beta1", ("DaemonSet", "Deployment", "ReplicaSet"), "1.9", "1.16", "apps/v1"
    ),
    ApiChange(
        "apps/v1beta1", ("Deployment", "StatefulSet", "ReplicaSet"), "1.9", "1.16", "apps/v1"
    ),
    ApiChange(
        "apps/v1beta2",
        ("DaemonSet", "Deployment", "StatefulSet", "ReplicaSet"),
        "1.9",
        "1.16",
        "apps/v1",
    ),
    ApiChange(
        "extensions/v1beta1",
        ("PodSecurityPolicy",),
        "1.11",
        "1.16",
        "nothing: PodSecurityPolicy is gone; use Pod Security Admission",
    ),
)
_BY_API = {(c.api_version, kind): c for c in TABLE for kind in c.kinds}


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def lookup(api_version: str, kind: str) -> ApiChange | None:
    """The table's row for `api_version` `kind`, if it has one."""
    return _BY_API.get((api_version, kind))


def api_findings(
    manifests: Sequence[Manifest], kubernetes_version: str
) -> tuple[list[Finding], list[Manifest]]:
    """(findings, manifests still to schema-check): an error for each object of a removed
    API version (it is not schema-checked: no schema describes it), a warning for a
    deprecated one that is still served."""
    version = _minor(kubernetes_version)
    findings: list[Finding] = []
    rest: list[Manifest] = []
    for manifest in manifests:
        change = (
            lookup(manifest.api_version, manifest.kind)
            if isinstance(manifest.body, Mapping)
            else None
        )
        if change is None or version < _minor(change.deprecated):
            rest.append(manifest)
            continue
        replacement = change.replacement_in(version)
        use = replacement if replacement.startswith("nothing") else f"use {replacement}"
        label = f"{manifest.key}: {manifest.kind} {manifest.api_version}"
        if version >= _minor(change.removed):
            findings.append(
                Finding(
                    Severity.ERROR,
                    CHECK,
                    f"{label} is removed in Kubernetes {change.removed} "
                    f"(this environment runs {kubernetes_version}); {use}",
                    manifest.file,
                    manifest.line,
                    manifest.key,
                    REMOVED_RULE,
                )
            )
            continue
        findings.append(
            Finding(
                Severity.WARNING,
                CHECK,
                f"{label} is deprecated since Kubernetes "
                f"{change.deprecated} and removed in {change.removed}; {use}",
                manifest.file,
                manifest.line,
                manifest.key,
                DEPRECATED_RULE,
            )
        )
        rest.append(manifest)
    return findings, rest
