package gitops.change

import rego.v1

# Fixtures are literal documents, not built by functions: regopy 1.5.2 keeps the quotes of
# string literals passed through function arguments when they reach sprintf.
pvc_deleted := {"kind": "delete", "severity": "error", "target": "shop/staging", "message": "PersistentVolumeClaim/shop/data is deleted: the volume's data is lost", "object": {"group": "", "kind": "PersistentVolumeClaim", "namespace": "shop", "name": "data", "key": "PersistentVolumeClaim/shop/data"}, "field": null, "file": "apps/shop/pvc.yaml", "line": 1, "count": 0}

ns_deleted := {"kind": "delete", "severity": "error", "target": "shop/staging", "message": "Namespace/shop is deleted: every object in the namespace is deleted with it", "object": {"group": "", "kind": "Namespace", "namespace": "", "name": "shop", "key": "Namespace/shop"}, "field": null, "file": "apps/shop/ns.yaml", "line": 1, "count": 0}

pod_obj := {"group": "", "kind": "Deployment", "namespace": "shop", "name": "web", "status": "changed", "changed_fields": ["spec.replicas"], "file": "apps/shop/deploy.yaml", "line": 1}

cluster_role := {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "namespace": "", "name": "admin", "status": "created", "changed_fields": [], "file": "apps/shop/rbac.yaml", "line": 3}

change_of(targets) := {"version": 1, "change": {"author": "alice"}, "targets": targets, "reviews": []}

test_app_folder_cluster_role_denied if {
	msgs := deny with input as change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [cluster_role]}])
	some m in msgs
	contains(m.msg, "ClusterRole/admin")
	m.file == "apps/shop/rbac.yaml"
	m.line == 3
}

test_app_folder_kube_system_denied if {
	o := object.union(pod_obj, {"kind": "ConfigMap", "namespace": "kube-system"})
	count(deny) == 1 with input as change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [o]}])
}

test_app_folder_of_only_applications_needs_platform_approval if {
	# an app of apps: never a silent pass, the platform team must approve it
	o := object.union(pod_obj, {"kind": "Application", "group": "argoproj.io"})
	ci := change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [o]}])
	count(deny) == 0 with input as ci
	count(approvals) == 1 with input as ci
}

test_deleting_cluster_role_from_app_is_allowed if {
	o := object.union(cluster_role, {"status": "deleted"})
	count(deny) == 0 with input as change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [o]}])
}

test_app_of_apps_may_manage_applications_with_platform_approval if {
	app := {"group": "argoproj.io", "kind": "Application", "namespace": "argocd", "name": "team-a", "status": "changed", "changed_fields": ["spec.source.targetRevision"], "file": "envs/dev/templates/team-a.yaml", "line": 1}
	project := object.union(app, {"kind": "AppProject", "name": "teams", "status": "unchanged", "changed_fields": []})
	ci := change_of([{"id": "envs/dev", "app": "envs", "environment": "dev", "objects": [app, project]}])
	count(deny) == 0 with input as ci
	reqs := approvals with input as ci
	reqs == {{"group": "platform", "count": 1, "reason": "envs/dev changes Application/team-a"}}
}

test_application_among_workloads_is_still_denied if {
	app := {"group": "argoproj.io", "kind": "Application", "namespace": "argocd", "name": "sneaky", "status": "created", "changed_fields": [], "file": "apps/shop/app.yaml", "line": 1}
	count(deny) == 1 with input as change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [app, pod_obj]}])
}

test_label_only_change_of_cluster_role_passes if {
	o := object.union(cluster_role, {"status": "changed", "changed_fields": ["metadata.labels.team", "metadata.annotations[\"a.b/c\"]"]})
	ci := change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [o]}])
	count(deny) == 0 with input as ci
	count(approvals) == 0 with input as ci
}

test_rules_change_of_cluster_role_is_denied if {
	o := object.union(cluster_role, {"status": "changed", "changed_fields": ["metadata.labels.team", "rules[0].verbs[1]"]})
	count(deny) == 1 with input as change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [o]}])
}

test_platform_cluster_role_needs_platform_approval if {
	ci := change_of([{"id": "platform/staging", "app": "platform", "environment": "staging", "objects": [cluster_role]}])
	count(deny) == 0 with input as ci
	reqs := approvals with input as ci
	reqs == {{"group": "platform", "count": 1, "reason": "platform/staging changes ClusterRole/admin"}}
}

test_deleting_pvc_and_namespace_needs_platform_approval if {
	reqs := approvals with input as object.union(change_of([]), {"dangerous": [pvc_deleted, ns_deleted]})
	reqs == {{"group": "platform", "count": 1, "reason": "dangerous: Namespace/shop is deleted: every object in the namespace is deleted with it; PersistentVolumeClaim/shop/data is deleted: the volume's data is lost"}}
}

test_dangerous_change_is_denied_without_platform_approval if {
	msgs := deny_dangerous with input as object.union(change_of([]), {"dangerous": [pvc_deleted]})
	some m in msgs
	m.msg == "shop/staging: PersistentVolumeClaim/shop/data is deleted: the volume's data is lost; needs an approval from the platform team"
	m.object.kind == "PersistentVolumeClaim"
}

test_platform_approval_lifts_the_denial if {
	reviews := [{"user": "pat", "state": "APPROVED", "sha": "h", "teams": ["platform"]}]
	count(deny_dangerous) == 0 with input as object.union(change_of([]), {"dangerous": [pvc_deleted], "reviews": reviews})
}

test_platform_approval_by_org_slug_lifts_the_denial if {
	reviews := [{"user": "pat", "state": "APPROVED", "sha": "h", "teams": ["acme/platform"]}]
	count(deny_dangerous) == 0 with input as object.union(change_of([]), {"dangerous": [pvc_deleted], "reviews": reviews})
}

test_a_team_of_another_name_does_not_lift_the_denial if {
	reviews := [{"user": "pat", "state": "APPROVED", "sha": "h", "teams": ["acme/platform-readers"]}]
	count(deny_dangerous) == 1 with input as object.union(change_of([]), {"dangerous": [pvc_deleted], "reviews": reviews})
}

test_scale_to_zero_only_warns if {
	zero := object.union(pvc_deleted, {"kind": "scale-to-zero", "severity": "warning", "message": "Deployment/shop/web is scaled to 0 replicas"})
	ci := object.union(change_of([]), {"dangerous": [zero]})
	count(deny_dangerous) == 0 with input as ci
	count(warn_dangerous) == 1 with input as ci
	count(approvals) == 0 with input as ci
}

test_changing_pvc_needs_nothing if {
	pvc := object.union(pod_obj, {"kind": "PersistentVolumeClaim", "name": "data"})
	count(approvals) == 0 with input as change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [pvc]}])
}

test_production_needs_two_approvals if {
	reqs := approvals with input as change_of([{"id": "shop/production", "app": "shop", "environment": "production", "objects": [pod_obj]}])
	reqs == {{"group": "*", "count": 2, "reason": "changes production (shop/production)"}}
}

test_unchanged_production_needs_nothing if {
	o := object.union(pod_obj, {"status": "unchanged"})
	count(approvals) == 0 with input as change_of([{"id": "shop/production", "app": "shop", "environment": "production", "objects": [o]}])
}

test_settings_come_from_data if {
	ci := change_of([{"id": "shop/live", "app": "shop", "environment": "live", "objects": [pod_obj]}])
	count(approvals) == 0 with input as ci
	count(approvals) == 1 with input as ci with data.gitops_settings.production_environments as ["live"]
}

staging_with(approvals) := {"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [pod_obj], "approvals": approvals}

test_configured_environment_approvals_are_required if {
	reqs := approvals with input as change_of([staging_with({"count": 2, "groups": ["sre", "platform"]})])
	reqs == {{"group": "platform,sre", "count": 2, "reason": "changes staging (shop/staging); .gitops-bot.yaml asks for it"}}
}

test_configured_approvals_without_groups_accept_anyone if {
	reqs := approvals with input as change_of([staging_with({"count": 1, "groups": []})])
	reqs == {{"group": "*", "count": 1, "reason": "changes staging (shop/staging); .gitops-bot.yaml asks for it"}}
}

test_configured_zero_approvals_ask_for_none if {
	count(approvals) == 0 with input as change_of([staging_with({"count": 0, "groups": []})])
}

test_configured_production_replaces_the_default_rule if {
	t := {"id": "shop/production", "app": "shop", "environment": "production", "objects": [pod_obj], "approvals": {"count": 1, "groups": ["sre"]}}
	reqs := approvals with input as change_of([t])
	reqs == {{"group": "sre", "count": 1, "reason": "changes production (shop/production); .gitops-bot.yaml asks for it"}}
}

test_unchanged_configured_environment_needs_nothing if {
	o := object.union(pod_obj, {"status": "unchanged"})
	t := {"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [o], "approvals": {"count": 1, "groups": []}}
	count(approvals) == 0 with input as change_of([t])
}

test_a_deletion_in_two_environments_is_named_once if {
	staging := object.union(pvc_deleted, {"target": "shop/staging"})
	production := object.union(pvc_deleted, {"target": "shop/production"})
	reqs := approvals with input as object.union(change_of([]), {"dangerous": [staging, production]})
	reqs == {{"group": "platform", "count": 1, "reason": "dangerous: PersistentVolumeClaim/shop/data is deleted: the volume's data is lost"}}
}

secret_obj := {"group": "", "kind": "Secret", "namespace": "shop", "name": "db", "status": "changed", "changed_fields": ["data.password"], "file": "apps/shop/secret.yaml", "line": 1}

secret_change(o) := change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [o]}])

test_new_values_in_a_plaintext_secret_are_denied if {
	msgs := deny_secret_values with input as secret_change(secret_obj)
	count(msgs) == 1
	some m in msgs
	contains(m.msg, "Secret/db gets new values in plain text (data.password)")
	m.object.name == "db"
	m.file == "apps/shop/secret.yaml"
}

test_a_secret_that_gains_string_data_is_denied if {
	o := object.union(secret_obj, {"changed_fields": ["stringData"]})
	count(deny_secret_values) == 1 with input as secret_change(o)
}

test_new_values_in_a_sops_encrypted_secret_pass if {
	o := object.union(secret_obj, {"changed_fields": ["data.password", "sops.lastmodified", "sops.mac"]})
	count(deny_secret_values) == 0 with input as secret_change(o)
}

test_labels_of_a_secret_and_a_new_secret_pass_here if {
	labels := object.union(secret_obj, {"changed_fields": ["metadata.labels.team"]})
	count(deny_secret_values) == 0 with input as secret_change(labels)
	created := object.union(secret_obj, {"status": "created", "changed_fields": []})
	count(deny_secret_values) == 0 with input as secret_change(created)
}

bot_change(o) := object.union(secret_change(o), {"bot": {"namespace": "gitops-bot"}})

test_an_app_folder_may_not_reach_into_the_bots_namespace if {
	o := object.union(pod_obj, {"kind": "ConfigMap", "name": "tokens", "namespace": "gitops-bot"})
	msgs := deny with input as bot_change(o)
	count(msgs) == 1
	some m in msgs
	contains(m.msg, "shop/staging: ConfigMap/tokens is in the namespace gitops-bot itself runs in")
}

test_the_bots_namespace_needs_a_platform_approval_from_a_platform_app if {
	o := object.union(pod_obj, {"kind": "ConfigMap", "name": "tokens", "namespace": "gitops-bot"})
	platform := {"id": "platform/prod", "app": "platform", "environment": "prod", "objects": [o]}
	inp := object.union(change_of([platform]), {"bot": {"namespace": "gitops-bot"}})
	count(deny) == 0 with input as inp
	some a in approvals with input as inp
	a.group == "platform"
}

test_no_bot_namespace_known_protects_nothing_more if {
	o := object.union(pod_obj, {"namespace": "gitops-bot"})
	count(deny) == 0 with input as secret_change(o)
	count(deny) == 0 with input as object.union(secret_change(o), {"bot": {"namespace": ""}})
}
