# Why: `app.kubernetes.io/name` is how people, dashboards, cost reports and this bot's own
# drift view find what an object belongs to; without it ownership questions go unanswered.
package main

import data.gitops.lib.k8s
import rego.v1

required_label := "app.kubernetes.io/name"

deny contains msg if {
	object.get(object.get(input.metadata, "labels", {}), required_label, "") == ""
	msg := sprintf("%s: missing the label %s", [k8s.label, required_label])
}
