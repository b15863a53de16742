# Why: without requests the scheduler overcommits nodes and evicts at random under
# pressure; without a memory limit one leaking pod can take a whole node down. A missing CPU
# limit only warns: CPU limits throttle even on idle nodes and many teams omit them on
# purpose.
package main

import data.gitops.lib.k8s
import rego.v1

required := [["requests", "cpu"], ["requests", "memory"], ["limits", "memory"]]

deny contains msg if {
	some c in k8s.workload_containers
	some pair in required
	not c.resources[pair[0]][pair[1]]
	msg := sprintf("%s: container %s has no %s.%s; set CPU and memory requests and a memory limit", [k8s.label, c.name, pair[0], pair[1]])
}

warn contains msg if {
	some c in k8s.workload_containers
	not c.resources.limits.cpu
	msg := sprintf("%s: container %s has no CPU limit", [k8s.label, c.name])
}
