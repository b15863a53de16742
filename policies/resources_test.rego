package main

import data.gitops.lib.fixtures
import rego.v1

test_missing_memory_limit_denied if {
	c := object.union(fixtures.container, {"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1"}}})
	msgs := deny with input as fixtures.deployment_with([json.remove(c, ["resources/limits/memory"])], {})
	some msg in msgs
	contains(msg, "limits.memory")
}

test_missing_requests_denied if {
	c := json.remove(fixtures.container, ["resources/requests"])
	msgs := deny with input as fixtures.deployment_with([c], {})
	count([m | some m in msgs; contains(m, "requests.")]) == 2
}

test_missing_cpu_limit_only_warns if {
	c := json.remove(fixtures.container, ["resources/limits/cpu"])
	count(deny) == 0 with input as fixtures.deployment_with([c], {})
	count(warn) == 1 with input as fixtures.deployment_with([c], {})
}

test_non_workloads_ignored if {
	count(deny) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app.kubernetes.io/name": "c"}}}
}
