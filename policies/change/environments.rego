# Why: an environment's own approval rule, written in .gitops-bot.yaml as
# `environments.<env>.approvals: {count: N, groups: [...]}`, is the team's decision about who
# must look at a change before it reaches that environment. It replaces the default
# production rule (production.rego) for that environment; `count: 0` asks for none.
package gitops.change

import rego.v1

configured_environments := {t.environment | some t in input.targets; is_object(t.approvals)}

configured(env) if configured_environments[env]

approvals contains {"group": group, "count": t.approvals.count, "reason": reason} if {
	some t in input.targets
	is_object(t.approvals)
	t.approvals.count > 0
	ids := {u.id | some u in input.targets; u.environment == t.environment; some o in u.objects; o.status != "unchanged"}
	count(ids) > 0
	group := approval_group(t.approvals.groups)
	reason := concat("", ["changes ", t.environment, " (", concat(", ", sort(ids)), "); .gitops-bot.yaml asks for it"])
}

approval_group(groups) := "*" if count(groups) == 0

approval_group(groups) := concat(",", sort(groups)) if count(groups) > 0
