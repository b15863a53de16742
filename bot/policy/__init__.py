"""Policy engine: conftest-style resource policies and change policies, embedded or on OPA.

The review pipeline calls exactly this (see bot/policy/README.md for the input document):

    from bot.policy import (EmbeddedEngine, OpaServerEngine, PolicySet, load_policy_set,
                            load_policy_set_from_git, build_change_input, ChangeInfo, Review,
                            blast_radius, diff_policy_sets)

    server = load_policy_set(Path("policies"), "server")            # or the configured dir
    repo = load_policy_set_from_git(checkout, base_sha, "policies", "repository")  # BASE only
    engine = EmbeddedEngine()                  # or OpaServerEngine("http://opa:8181"),
                                               # or make_engine(kind, opa_url, opa_token)

    for target in targets:                     # both layers, on every change
        findings = engine.resource_findings(server, manifests)
        findings += engine.resource_findings(repo, manifests)
    change_input = build_change_input(target_results, ChangeInfo(...), reviews)
    decision = engine.change_decision(server, change_input)   # .findings, .approvals
    # ... and engine.change_decision(repo, change_input); concatenate both.

    if head_repo.revision != repo.revision:    # the change edits repository policies
        diff_text = diff_policy_sets(repo, head_repo)
        impact = blast_radius(engine, repo, head_repo, manifests_by_target, change_input)

Contracts:
- `resource_findings` / `change_decision` never raise: an engine problem (compile error, a
  forbidden built-in, OPA unreachable) is an ERROR Finding with check="policy" and the
  reason, so the check fails closed.
- Findings: check="policy", rule="<package>.<rule>" (`main.deny`, `gitops.change.warn`),
  ERROR for deny*/violation*, WARNING for warn*, INFO when a conftest `exception` skipped a
  rule; file/line/object come from the Manifest.
- `ChangeDecision.approvals` are ApprovalRequirement(group, count, reason, satisfied_by):
  `group` is a team slug or "*" (any reviewer); `satisfied_by` lists the reviewers in the
  input's `reviews` (approvals of the head SHA, author excluded) who count for it.
- Loaders raise PolicyLoadError (a UserError) for unreadable folders or revisions.
- Resource rules live in `package main` by default (PolicySet.namespaces, `"*"` = all);
  change rules in `package gitops.change`.
"""

from __future__ import annotations

from bot.policy.conventions import ANY_REVIEWER, CHANGE_PACKAGE, ChangeDecision
from bot.policy.embedded import EmbeddedEngine
from bot.policy.engines import ENGINES, make_engine
from bot.policy.impact import CHANGE_SCOPE, PolicyDelta, PolicyEngine, blast_radius
from bot.policy.input import ChangeInfo, Review, approving_reviews, build_change_input
from bot.policy.opa_server import OpaServerEngine
from bot.policy.policyset import (
    DEFAULT_NAMESPACES,
    PolicyLoadError,
    PolicySet,
    diff_policy_sets,
    load_policy_set,
    load_policy_set_from_git,
)

__all__ = [
    "ANY_REVIEWER",
    "CHANGE_PACKAGE",
    "CHANGE_SCOPE",
    "DEFAULT_NAMESPACES",
    "ENGINES",
    "ChangeDecision",
    "ChangeInfo",
    "EmbeddedEngine",
    "OpaServerEngine",
    "PolicyDelta",
    "PolicyEngine",
    "PolicyLoadError",
    "PolicySet",
    "Review",
    "approving_reviews",
    "blast_radius",
    "build_change_input",
    "diff_policy_sets",
    "load_policy_set",
    "load_policy_set_from_git",
    "make_engine",
]
