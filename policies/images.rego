# Why: `:latest` and untagged images are mutable. What was reviewed is not necessarily what
# runs, two nodes can run different code, and a rollback cannot bring the old image back.
package main

import data.gitops.lib.k8s
import rego.v1

deny contains msg if {
	some c in k8s.containers
	not k8s.pinned_by_digest(c.image)
	k8s.image_tag(c.image) == "latest"
	msg := sprintf("%s: container %s uses the mutable tag :latest (%s); pin a version or a digest", [k8s.label, c.name, c.image])
}

deny contains msg if {
	some c in k8s.containers
	not k8s.pinned_by_digest(c.image)
	not k8s.image_tag(c.image)
	msg := sprintf("%s: container %s has an untagged image (%s), which means :latest; pin a version or a digest", [k8s.label, c.name, c.image])
}
