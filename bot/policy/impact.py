"""Blast radius of a policy change: which findings the new policies would add or remove."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.model import ApprovalRequirement, Finding, Manifest, Severity
from bot.policy.conventions import ChangeDecision
from bot.policy.policyset import PolicySet

CHANGE_SCOPE = "(change)"


class PolicyEngine(Protocol):
    """What the review pipeline needs from a policy engine (embedded or OPA server)."""

    name: str

    def resource_findings(
        self, policies: PolicySet, manifests: Sequence[Manifest]
    ) -> list[Finding]:
        """Findings of the resource rules for each object; never raises."""
        ...

    def change_decision(
        self, policies: PolicySet, change_input: Mapping[str, Any]
    ) -> ChangeDecision:
        """Findings and approval requirements of the change rules; never raises."""
        ...


@dataclass(frozen=True)
class PolicyDelta:
    """What switching from the old to the new policies would change for one scope."""

    added: tuple[Finding, ...] = ()
    removed: tuple[Finding, ...] = ()
    approvals_added: tuple[ApprovalRequirement, ...] = ()
    approvals_removed: tuple[ApprovalRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.approvals_added or self.approvals_removed)


def _minus(a: Sequence[Finding], b: Sequence[Finding]) -> tuple[Finding, ...]:
    left = Counter(a)
    left.subtract(Counter(b))
    out: list[Finding] = []
    for finding in a:
        if left[finding] > 0:
            out.append(finding)
            left[finding] -= 1
    return tuple(out)


def _bare(reqs: Sequence[ApprovalRequirement]) -> list[ApprovalRequirement]:
    return [ApprovalRequirement(r.group, r.count, r.reason) for r in reqs]


def blast_radius(
    engine: PolicyEngine,
    old: PolicySet,
    new: PolicySet,
    manifests_by_target: Mapping[str, Sequence[Manifest]],
    change_input: Mapping[str, Any],
    *,
    untrusted: PolicyEngine,
) -> dict[str, PolicyDelta]:
    """Evaluate both revisions; per target id (plus CHANGE_SCOPE for the change rules), the
    findings the new policies would add or remove. Scopes without a difference are left out.
    The change is still judged by `old` (the base revision); this is for the report only.

    `new` comes from the pull request: it is evaluated only by `untrusted`, a sandboxed
    engine (`EmbeddedEngine(isolated=True)`), whatever engine judges the change.
    """
    sandbox = untrusted
    impact: dict[str, PolicyDelta] = {}
    for target_id, manifests in sorted(manifests_by_target.items()):
        before = engine.resource_findings(old, manifests)
        after = sandbox.resource_findings(new, manifests)
        delta = PolicyDelta(_minus(after, before), _minus(before, after))
        if not delta.empty:
            impact[target_id] = delta
    old_decision = engine.change_decision(old, change_input)
    new_decision = sandbox.change_decision(new, change_input)
    old_reqs, new_reqs = _bare(old_decision.approvals), _bare(new_decision.approvals)
    delta = PolicyDelta(
        _minus(new_decision.findings, old_decision.findings),
        _minus(old_decision.findings, new_decision.findings),
        tuple(r for r in new_reqs if r not in old_reqs),
        tuple(r for r in old_reqs if r not in new_reqs),
    )
    if not delta.empty:
        impact[CHANGE_SCOPE] = delta
    return impact


def impact_verdict(today: Sequence[Finding], delta: PolicyDelta) -> str:
    """ "newly fails", "newly passes" or "changes findings": what switching to the new
    policies does to a scope whose findings are `today` (under the old policies)."""
    errors = [f for f in today if f.severity is Severity.ERROR]
    added = [f for f in delta.added if f.severity is Severity.ERROR]
    remaining = _minus(errors, [f for f in delta.removed if f.severity is Severity.ERROR])
    if not errors and added:
        return "newly fails"
    if errors and not remaining and not added:
        return "newly passes"
    return "changes findings"
