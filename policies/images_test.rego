package main

import data.gitops.lib.fixtures
import rego.v1

test_pinned_image_passes if {
	count(deny) == 0 with input as fixtures.deployment
}

test_latest_denied if {
	msgs := deny with input as fixtures.deployment_with([fixtures.container_with({"image": "nginx:latest"})], {})
	some msg in msgs
	contains(msg, ":latest")
}

test_untagged_denied if {
	msgs := deny with input as fixtures.deployment_with([fixtures.container_with({"image": "nginx"})], {})
	some msg in msgs
	contains(msg, "untagged")
}

test_registry_port_is_not_a_tag if {
	msgs := deny with input as fixtures.deployment_with([fixtures.container_with({"image": "registry:5000/team/app"})], {})
	some msg in msgs
	contains(msg, "untagged")
}

test_digest_passes_even_with_latest if {
	count(deny) == 0 with input as fixtures.deployment_with([fixtures.container_with({"image": "nginx:latest@sha256:0123456789abcdef"})], {})
}

test_init_container_checked if {
	init := fixtures.container_with({"name": "init", "image": "busybox"})
	msgs := deny with input as fixtures.deployment_with([fixtures.container], {"initContainers": [init]})
	some msg in msgs
	contains(msg, "container init ")
}

test_cronjob_checked if {
	cron := {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "labels": {"app.kubernetes.io/name": "nightly"}}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [fixtures.container_with({"image": "tool:latest"})]}}}}}}
	msgs := deny with input as cron
	some msg in msgs
	contains(msg, "CronJob/nightly")
}
