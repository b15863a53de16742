# Why: production is where a mistake costs most; two people other than the author must
# have looked at the exact commit that will be deployed.
package gitops.change

import rego.v1

# An environment whose approvals .gitops-bot.yaml configures follows that rule instead
# (environments.rego).
production_targets := {t.id | some t in input.targets; t.environment in production_environments; not configured(t.environment); some o in t.objects; o.status != "unchanged"}

approvals contains {"group": "*", "count": 2, "reason": concat("", ["changes production (", concat(", ", sort(production_targets)), ")"])} if {
	count(production_targets) > 0
}
