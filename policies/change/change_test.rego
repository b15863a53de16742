package gitops.change

import rego.v1

# Fixtures are literal documents, not built by functions: regopy 1.5.2 keeps the quotes of
# string literals passed through function arguments when they reach sprintf.
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

test_app_folder_argocd_application_denied if {
	o := object.union(pod_obj, {"kind": "Application", "group": "argoproj.io"})
	count(deny) == 1 with input as change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [o]}])
}

test_deleting_cluster_role_from_app_is_allowed if {
	o := object.union(cluster_role, {"status": "deleted"})
	count(deny) == 0 with input as change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [o]}])
}

test_platform_cluster_role_needs_platform_approval if {
	ci := change_of([{"id": "platform/staging", "app": "platform", "environment": "staging", "objects": [cluster_role]}])
	count(deny) == 0 with input as ci
	reqs := approvals with input as ci
	reqs == {{"group": "platform", "count": 1, "reason": "platform/staging changes ClusterRole/admin"}}
}

test_deleting_pvc_and_namespace_needs_platform_approval if {
	pvc := object.union(pod_obj, {"kind": "PersistentVolumeClaim", "name": "data", "status": "deleted"})
	ns := object.union(pod_obj, {"kind": "Namespace", "name": "shop", "namespace": "", "status": "deleted"})
	reqs := approvals with input as change_of([{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [pvc, ns]}])
	reqs == {{"group": "platform", "count": 1, "reason": "deletes Namespace/shop, PersistentVolumeClaim/data"}}
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
	pvc := object.union(pod_obj, {"kind": "PersistentVolumeClaim", "name": "data", "status": "deleted"})
	targets := [{"id": "shop/staging", "app": "shop", "environment": "staging", "objects": [pvc]}, {"id": "shop/production", "app": "shop", "environment": "production", "objects": [pvc]}]
	reqs := approvals with input as change_of(targets)
	some req in reqs
	req.reason == "deletes PersistentVolumeClaim/data"
}
