# Why: an environment's own approval rule, written in .gitops-bot.yaml as
# `environments.<env>.approvals: {count: N, groups: [...]}`, is the team's decision about who
# must look at a change before it reaches that environment. It replaces the default
# production rule (production.rego) for that environment; `count: 0` asks for none.
package gitops.change

import rego.v1

configured(env) if {
	some t in input.targets
	t.environment == env
	is_object(t.approvals)
}

env_changed_targets(env) := sorted if {
	sorted := sort([t.id | some t in input.targets; t.environment == env; some o in t.objects; o.status != "unchanged"])
}

approvals contains {"group": group, "count": t.approvals.count, "reason": reason} if {
	some t in input.targets
	is_object(t.approvals)
	t.approvals.count > 0
	ids := {id | some id in env_changed_targets(t.environment)}
	count(ids) > 0
	group := approval_group(t.approvals.groups)
	reason := concat("", ["changes ", t.environment, " (", concat(", ", sort(ids)), "); .gitops-bot.yaml asks for it"])
}

approval_group(groups) := "*" if count(groups) == 0

approval_group(groups) := concat(",", sort(groups)) if count(groups) > 0
