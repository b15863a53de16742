# Why: cluster-scoped RBAC, admission webhooks, Argo CD applications and kube-system objects
# act on the whole cluster, not on one app; an app folder must not grant itself
# cluster-wide power (docs/security.md#case-75). Platform apps may, with a platform approval.
package gitops.change

import rego.v1

cluster_kinds := {"ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Application", "ApplicationSet", "AppProject"}

cluster_wide(o) if cluster_kinds[o.kind]

cluster_wide(o) if o.namespace == "kube-system"

deny contains {"msg": msg, "file": o.file, "line": o.line} if {
	some t in input.targets
	some o in t.objects
	cluster_wide(o)
	o.status in {"created", "changed"}
	not is_platform_app(t.app)
	msg := sprintf("%s: %s/%s acts on the whole cluster; app folders may not manage it (move it to a platform app)", [t.id, o.kind, o.name])
}

approvals contains {"group": platform_team, "count": 1, "reason": sprintf("%s changes %s/%s", [t.id, o.kind, o.name])} if {
	some t in input.targets
	some o in t.objects
	cluster_wide(o)
	o.status in {"created", "changed", "deleted"}
	is_platform_app(t.app)
}
