# Why: a value written into a plaintext Secret is readable by everyone with access to the
# repository, in every clone and forever in its history. When the Secret was in plain text
# on main already, its old values were exposed already; the new ones are exposed by this
# change, which is how a secret scanner judges a diff. So a change that sets values of a
# plaintext Secret is denied even where the Secret itself is an old problem. A
# SOPS-encrypted Secret re-signs its values (its `sops` block changes with them) and passes,
# as does a SealedSecret (another kind) and a change of labels, annotations or the type.
package gitops.change

import rego.v1

value_field(f) if regex.match(`^(data|stringData)([.\[]|$)`, f)

sops_encrypted(o) if {
	some f in o.changed_fields
	regex.match(`^sops([.\[]|$)`, f)
}

deny_secret_values contains {"msg": msg, "file": o.file, "line": o.line, "object": {"group": o.group, "kind": o.kind, "namespace": o.namespace, "name": o.name}} if {
	some t in input.targets
	some o in t.objects
	o.kind == "Secret"
	o.status == "changed"
	not sops_encrypted(o)
	fields := sort({f | some f in o.changed_fields; value_field(f)})
	count(fields) > 0
	msg := concat("", [t.id, ": Secret/", o.name, " gets new values in plain text (", concat(", ", fields), "); commit a SealedSecret or encrypt it with SOPS"])
}
