# Why: cluster-scoped RBAC, admission webhooks, Argo CD applications and kube-system objects
# act on the whole cluster, not on one app; an app folder must not grant itself
# cluster-wide power (docs/security.md#case-75). Neither may it reach into the bot's own
# namespace (input.bot.namespace): its Secrets hold the forge tokens and cluster credentials. Platform apps may, with a platform approval;
# so may an app of apps (it renders only Argo CD / Flux objects: the platform's own layer).
# Changing only the labels or annotations of such an object grants nothing and passes.
package gitops.change

import rego.v1

cluster_kinds := {"ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Application", "ApplicationSet", "AppProject"}

cluster_wide(o) if cluster_kinds[o.kind]

cluster_wide(o) if o.namespace == "kube-system"

cluster_wide(o) if in_bot_namespace(o)

bot_namespace := object.get(object.get(input, "bot", {}), "namespace", "")

in_bot_namespace(o) if {
	bot_namespace != ""
	o.namespace == bot_namespace
}

# An app that renders only Argo CD / Flux objects is an app of apps: the platform's own layer.
gitops_groups := {"argoproj.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "source.toolkit.fluxcd.io", "notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io"}

app_of_apps(t) if {
	count(t.objects) > 0
	every o in t.objects {
		o.group in gitops_groups
	}
}

platform_target(t) if is_platform_app(t.app)

platform_target(t) if app_of_apps(t)

# Labels and annotations grant nothing: changing only them is not acting on the cluster.
metadata_only(o) if {
	count(o.changed_fields) > 0
	every f in o.changed_fields {
		regex.match(`^metadata\.(labels|annotations)([.\[]|$)`, f)
	}
}

grants(o) if o.status == "created"

grants(o) if {
	o.status == "changed"
	not metadata_only(o)
}

deny contains {"msg": msg, "file": o.file, "line": o.line} if {
	some t in input.targets
	some o in t.objects
	in_bot_namespace(o)
	grants(o)
	not platform_target(t)
	msg := concat("", [t.id, ": ", o.kind, "/", o.name, " is in the namespace gitops-bot itself runs in (", o.namespace, "); app folders may not manage it (move it to a platform app)"])
}

deny contains {"msg": msg, "file": o.file, "line": o.line} if {
	some t in input.targets
	some o in t.objects
	cluster_wide(o)
	not in_bot_namespace(o)
	grants(o)
	not platform_target(t)
	msg := sprintf("%s: %s/%s acts on the whole cluster; app folders may not manage it (move it to a platform app)", [t.id, o.kind, o.name])
}

needs_approval(o) if grants(o)

needs_approval(o) if o.status == "deleted"

approvals contains {"group": platform_team, "count": 1, "reason": sprintf("%s changes %s/%s", [t.id, o.kind, o.name])} if {
	some t in input.targets
	some o in t.objects
	cluster_wide(o)
	needs_approval(o)
	platform_target(t)
}
