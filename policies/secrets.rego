# Why: a Secret committed to Git is readable by everyone with access to the repository, in
# every clone and forever in its history. Commit a SealedSecret or a SOPS-encrypted file
# instead (both pass); an empty Secret carries nothing and passes too.
package main

import data.gitops.lib.k8s
import rego.v1

secret_values := [v | some v in object.get(input, "data", {})] if input.kind == "Secret"

secret_string_values := [v | some v in object.get(input, "stringData", {})] if input.kind == "Secret"

# SOPS adds a `sops` block with a MAC and turns every value into ENC[...].
sops_encrypted if {
	input.sops.mac
	plain := [v | some v in array.concat(secret_values, secret_string_values); not startswith(v, "ENC[")]
	count(plain) == 0
}

deny contains msg if {
	input.kind == "Secret"
	count(secret_values) + count(secret_string_values) > 0
	not sops_encrypted
	msg := sprintf("%s: plaintext Secret in Git; commit a SealedSecret or encrypt it with SOPS", [k8s.label])
}
