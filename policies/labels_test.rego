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
