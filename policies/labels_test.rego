package main

import rego.v1

test_missing_name_label_denied if {
	msgs := deny with input as {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
	msgs == {"Service/web: missing the label app.kubernetes.io/name"}
}

test_empty_name_label_denied if {
	count(deny) == 1 with input as {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": ""}}}
}

test_labelled_object_passes if {
	count(deny) == 0 with input as {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}}}
}

test_argo_cd_and_flux_objects_are_exempt if {
	count(deny) == 0 with input as {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "web"}}
	count(deny) == 0 with input as {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "apps"}}
	count(deny) == 0 with input as {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": "apps"}}
}

test_namespaces_and_crds_are_exempt if {
	count(deny) == 0 with input as {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
	count(deny) == 0 with input as {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"}}
}

test_kustomize_config_kustomization_is_not_exempt if {
	count(deny) == 1 with input as {"apiVersion": "example.com/v1", "kind": "Kustomization", "metadata": {"name": "k"}}
}
