# Test fixtures: a workload that passes every default policy, to be broken one field at a time.
package gitops.lib.fixtures

import rego.v1

container := {
	"name": "web",
	"image": "ghcr.io/example/web:1.4.2",
	"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
	"securityContext": {"runAsNonRoot": true},
}

deployment_with(containers, extra_pod_spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
	"spec": {"template": {"spec": object.union({"containers": containers}, extra_pod_spec)}},
}

deployment := deployment_with([container], {})

container_with(patch) := object.union(container, patch)
