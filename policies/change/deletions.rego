# Why: deleting a Namespace, a PersistentVolumeClaim or a CustomResourceDefinition destroys
# data (every object in the namespace, the volume's contents, every custom resource of that
# type) that a revert cannot bring back.
package gitops.change

import rego.v1

protected_kinds := {"Namespace", "PersistentVolumeClaim", "CustomResourceDefinition"}

deleted_protected := sort({sprintf("%s/%s", [o.kind, o.name]) | some t in input.targets; some o in t.objects; o.status == "deleted"; protected_kinds[o.kind]})

approvals contains {"group": platform_team, "count": 1, "reason": concat("", ["deletes ", concat(", ", deleted_protected)])} if {
	count(deleted_protected) > 0
}
