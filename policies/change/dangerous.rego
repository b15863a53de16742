# Why: some changes cannot be undone by a revert, or will not apply at all. Deleting a
# Namespace, a PersistentVolumeClaim, a PersistentVolume or a CustomResourceDefinition
# destroys data (every object in the namespace, the volume's contents, every custom resource
# of that type); deleting an Argo CD Application with its resources finalizer, an
# ApplicationSet, a pruning Flux Kustomization or a HelmRelease deletes a whole app; an
# immutable field changed (a selector, a StatefulSet's volume claims, a Job's template) makes
# the API server reject the update. The bot detects them (input.dangerous); each needs an
# approval of the platform team, and without one the review fails. Scaling to zero and a
# Service leaving ExternalName only warn.
package gitops.change

import rego.v1

blocking := [d | some d in input.dangerous; d.severity == "error"]

platform_approved if {
	some r in input.reviews
	in_team(r.teams, platform_team)
}

deny_dangerous contains {"msg": msg, "file": d.file, "line": d.line, "object": d.object} if {
	not platform_approved
	some d in blocking
	msg := concat("", [d.target, ": ", d.message, "; needs an approval from the platform team"])
}

warn_dangerous contains {"msg": msg, "file": d.file, "line": d.line, "object": d.object} if {
	some d in input.dangerous
	d.severity == "warning"
	msg := concat("", [d.target, ": ", d.message])
}

approvals contains {"group": platform_team, "count": 1, "reason": concat("", ["dangerous: ", concat("; ", sort({d.message | some d in blocking}))])} if {
	count(blocking) > 0
}
