# Why: `app.kubernetes.io/name` is how people, dashboards, cost reports and this bot's own
# drift view find what an object belongs to; without it ownership questions go unanswered.
# Objects that belong to no single app are exempt: Argo CD and Flux objects (they deploy
# apps; their name is the app's), Namespaces (shared by apps) and CustomResourceDefinitions
# (cluster-wide API types).
package main

import data.gitops.lib.k8s
import rego.v1

required_label := "app.kubernetes.io/name"

exempt_kinds := {"Namespace", "CustomResourceDefinition"}

api_group := split(input.apiVersion, "/")[0] if contains(input.apiVersion, "/")

exempt if input.kind in exempt_kinds

exempt if api_group == "argoproj.io"

exempt if endswith(api_group, ".toolkit.fluxcd.io")

deny contains msg if {
	not exempt
	object.get(object.get(input.metadata, "labels", {}), required_label, "") == ""
	msg := sprintf("%s: missing the label %s", [k8s.label, required_label])
}
