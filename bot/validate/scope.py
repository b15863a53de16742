"""Which kinds are namespaced: Kubernetes' built-in cluster-scoped kinds and CRD scopes.

The bundled JSON schemas say nothing about scope, so the cluster-scoped built-in kinds are
listed here. They were taken from the API paths of the Kubernetes Python client 37.0.2
(generated from the Kubernetes 1.37 OpenAPI document, Apache-2.0: a kind created under
`/apis/<group>/<version>/<plural>` and never under `.../namespaces/{namespace}/...`), plus
three kinds the bundled schemas of older releases still have (ComponentStatus, which has
no create path; `networking.k8s.io` ClusterCIDR, 1.25-1.28; `resource.k8s.io`
ResourceClass, 1.26-1.30). A test checks each entry against the bundled schemas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.model import Manifest

CLUSTER_SCOPED = frozenset(
    {
        ("", "ComponentStatus"),
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("authentication.k8s.io", "SelfSubjectReview"),
        ("authentication.k8s.io", "TokenReview"),
        ("authorization.k8s.io", "SelfSubjectAccessReview"),
        ("authorization.k8s.io", "SelfSubjectRulesReview"),
        ("authorization.k8s.io", "SubjectAccessReview"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("internal.apiserver.k8s.io", "StorageVersion"),
        ("networking.k8s.io", "ClusterCIDR"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("node.k8s.io", "RuntimeClass"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "DeviceTaintRule"),
        ("resource.k8s.io", "ResourceClass"),
        ("resource.k8s.io", "ResourcePoolStatusRequest"),
        ("resource.k8s.io", "ResourceSlice"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("storagemigration.k8s.io", "StorageVersionMigration"),
    }
)


def crd_scopes(manifests: Iterable[Manifest]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for the CustomResourceDefinitions among `manifests`."""
    out: dict[tuple[str, str], bool] = {}
    for m in manifests:
        if (m.key.group, m.key.kind) != ("apiextensions.k8s.io", "CustomResourceDefinition"):
            continue
        spec = m.body.get("spec")
        names = spec.get("names") if isinstance(spec, Mapping) else None
        kind = names.get("kind") if isinstance(names, Mapping) else None
        if isinstance(spec, Mapping) and isinstance(kind, str):
            out[(str(spec.get("group") or ""), kind)] = spec.get("scope") != "Cluster"
    return out


def namespaced(group: str, kind: str, crds: Mapping[tuple[str, str], bool] | None = None) -> bool:
    """Whether objects of `kind` live in a namespace; unknown kinds count as namespaced
    (as most custom resources are)."""
    if crds and (group, kind) in crds:
        return crds[(group, kind)]
    return (group, kind) not in CLUSTER_SCOPED
