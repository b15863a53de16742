# Why: in a cluster shared by teams, a Flux Kustomization or HelmRelease runs with the
# rights of its service account and reads its source by reference. A reference to a source
# in another namespace, or a privileged service account, lets a tenant's folder act with
# the platform's rights (docs/security.md#case-76; Flux's multi-tenancy lockdown).
# The platform's own namespaces (data.gitops_settings.flux_platform_namespaces) are exempt.
package main

import data.gitops.lib.k8s
import rego.v1

default platform_namespaces := ["flux-system"]

platform_namespaces := data.gitops_settings.flux_platform_namespaces

default privileged_accounts := ["cluster-admin", "kustomize-controller", "helm-controller", "source-controller", "notification-controller", "image-reflector-controller", "image-automation-controller"]

privileged_accounts := data.gitops_settings.flux_privileged_service_accounts

flux_object if {
	input.kind in {"Kustomization", "HelmRelease"}
	startswith(input.apiVersion, "kustomize.toolkit.fluxcd.io/")
}

flux_object if {
	input.kind == "HelmRelease"
	startswith(input.apiVersion, "helm.toolkit.fluxcd.io/")
}

namespace := object.get(input.metadata, "namespace", "")

source_refs contains ref if {
	input.kind == "Kustomization"
	ref := input.spec.sourceRef
}

source_refs contains ref if {
	input.kind == "HelmRelease"
	ref := input.spec.chart.spec.sourceRef
}

source_refs contains ref if {
	input.kind == "HelmRelease"
	ref := input.spec.chartRef
}

tenant if {
	flux_object
	not namespace in platform_namespaces
}

deny contains msg if {
	tenant
	some ref in source_refs
	ref.namespace
	# a local, not the rule: regopy quotes rule values inside sprintf
	own := object.get(input.metadata, "namespace", "")
	ref.namespace != own
	msg := sprintf("%s: sourceRef %s/%s is in namespace %s, not %s; a tenant reads only sources of its own namespace", [k8s.label, ref.kind, ref.name, ref.namespace, own])
}

deny contains msg if {
	tenant
	account := input.spec.serviceAccountName
	account in privileged_accounts
	msg := sprintf("%s: serviceAccountName %s is a privileged account; run as the tenant's own service account", [k8s.label, account])
}
