package main

import rego.v1

kustomization(ns, spec) := {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "apps", "namespace": ns}, "spec": spec}

# only this policy's messages: other policies (labels) judge these objects too
flux_denials(msgs) := {m | some m in msgs; regex.match(`sourceRef|serviceAccountName`, m)}

helm_release(ns, spec) := {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "web", "namespace": ns}, "spec": spec}

test_same_namespace_source_passes if {
	msgs := deny with input as kustomization("team-a", {"sourceRef": {"kind": "GitRepository", "name": "apps", "namespace": "team-a"}, "serviceAccountName": "team-a"})
	count(flux_denials(msgs)) == 0
}

test_cross_namespace_source_denied if {
	msgs := deny with input as kustomization("team-a", {"sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}})
	some msg in msgs
	contains(msg, "sourceRef GitRepository/flux-system is in namespace flux-system")
}

test_cross_namespace_chart_source_denied if {
	msgs := deny with input as helm_release("team-a", {"chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "team-b"}}}})
	some msg in msgs
	contains(msg, "HelmRepository/charts is in namespace team-b")
}

test_privileged_service_account_denied if {
	msgs := deny with input as helm_release("team-a", {"serviceAccountName": "cluster-admin", "chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}})
	some msg in msgs
	contains(msg, "serviceAccountName cluster-admin is a privileged account")
}

test_platform_namespace_is_exempt if {
	msgs := deny with input as kustomization("flux-system", {"sourceRef": {"kind": "GitRepository", "name": "infra", "namespace": "infra"}, "serviceAccountName": "kustomize-controller"})
	count(flux_denials(msgs)) == 0
}

test_kustomize_kustomization_is_not_flux if {
	msgs := deny with input as {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "metadata": {"name": "k"}, "spec": {"sourceRef": {"namespace": "x"}}}
	count(flux_denials(msgs)) == 0
}
