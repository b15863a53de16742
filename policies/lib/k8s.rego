# Shared helpers for the resource policies: where any workload kind keeps its pod spec and
# containers, and a readable name for messages. Why: every policy must see the same pods,
# or a CronJob slips past a check that only knows Deployments.
package gitops.lib.k8s

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

pod_spec = input.spec if input.kind == "Pod"

pod_spec = input.spec.template.spec if workload_kinds[input.kind]

pod_spec = input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

# Containers that run the workload (these can carry resources).
workload_containers contains c if some c in pod_spec.containers

workload_containers contains c if some c in pod_spec.initContainers

# Every container, including ephemeral debug containers.
containers contains c if some c in workload_containers

containers contains c if some c in pod_spec.ephemeralContainers

label := sprintf("%s/%s", [input.kind, object.get(input.metadata, "name", "<unnamed>")])

# The tag of an image reference, when it has one (a registry port is not a tag).
image_tag(image) := tag if {
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
}

# A digest pins the exact image whatever the tag says.
pinned_by_digest(image) if contains(image, "@sha256:")
