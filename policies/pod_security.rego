# Why: each of these hands a container a way out to the node: privileged mode and host
# namespaces share the node's devices, network, processes or IPC, a hostPath volume reads
# and writes the node's files, and root in a container is one bug away from root on the
# node (Kubernetes Pod Security Standards, "restricted").
package main

import data.gitops.lib.k8s
import rego.v1

deny contains msg if {
	some c in k8s.containers
	c.securityContext.privileged == true
	msg := sprintf("%s: container %s is privileged", [k8s.label, c.name])
}

host_namespaces := ["hostNetwork", "hostPID", "hostIPC"]

deny contains msg if {
	some field in host_namespaces
	k8s.pod_spec[field] == true
	msg := sprintf("%s: %s is not allowed", [k8s.label, field])
}

deny contains msg if {
	some v in k8s.pod_spec.volumes
	v.hostPath
	msg := sprintf("%s: volume %s mounts a hostPath (%s)", [k8s.label, v.name, object.get(v.hostPath, "path", "")])
}

# A container's own setting wins over the pod's.
sets_non_root(c) if c.securityContext.runAsNonRoot != null

non_root(c) if c.securityContext.runAsNonRoot == true

non_root(c) if {
	not sets_non_root(c)
	k8s.pod_spec.securityContext.runAsNonRoot == true
}

deny contains msg if {
	some c in k8s.containers
	not non_root(c)
	msg := sprintf("%s: container %s may run as root; set securityContext.runAsNonRoot: true", [k8s.label, c.name])
}
