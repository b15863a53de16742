package main

import data.gitops.lib.fixtures
import rego.v1

test_privileged_denied if {
	c := fixtures.container_with({"securityContext": {"runAsNonRoot": true, "privileged": true}})
	msgs := deny with input as fixtures.deployment_with([c], {})
	some msg in msgs
	contains(msg, "privileged")
}

test_host_namespaces_denied if {
	msgs := deny with input as fixtures.deployment_with([fixtures.container], {"hostNetwork": true, "hostPID": true, "hostIPC": true})
	count(msgs) == 3
}

test_host_network_false_passes if {
	count(deny) == 0 with input as fixtures.deployment_with([fixtures.container], {"hostNetwork": false})
}

test_host_path_denied if {
	msgs := deny with input as fixtures.deployment_with([fixtures.container], {"volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]})
	some msg in msgs
	contains(msg, "/var/run/docker.sock")
}

test_root_denied if {
	c := object.remove(fixtures.container, ["securityContext"])
	msgs := deny with input as fixtures.deployment_with([c], {})
	some msg in msgs
	contains(msg, "runAsNonRoot")
}

test_pod_level_non_root_passes if {
	c := object.remove(fixtures.container, ["securityContext"])
	count(deny) == 0 with input as fixtures.deployment_with([c], {"securityContext": {"runAsNonRoot": true}})
}

test_container_overrides_pod_level if {
	c := fixtures.container_with({"securityContext": {"runAsNonRoot": false}})
	msgs := deny with input as fixtures.deployment_with([c], {"securityContext": {"runAsNonRoot": true}})
	some msg in msgs
	contains(msg, "runAsNonRoot")
}
