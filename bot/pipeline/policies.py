"""The policy step of a review: both policy layers, change rules, and policy edits' impact.

The server's policy set and the repository's own set (read from the trusted, base side)
judge every change. When the change edits the repository's policies, the new policies are
evaluated too — only to show what they would add or remove, never to judge this change, and
only in a sandboxed child process: they are code from the pull request. So is the
repository's set when there is no trusted revision (`check DIR` reviews a folder that may be
a pull request's checkout).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.gitrepo import Snapshot
from bot.model import ApprovalRequirement, Attachment, Finding, Manifest, TargetResult
from bot.pipeline.cache import cache_key
from bot.policy import (
    CHANGE_SCOPE,
    ChangeInfo,
    EmbeddedEngine,
    PolicyEngine,
    PolicySet,
    Review,
    blast_radius,
    build_change_input,
    diff_policy_sets,
    load_policy_set,
)
from bot.policy.policyset import policy_set_from_files

# The bot's own default policies (the `policies/` folder of this project).
DEFAULT_SERVER_POLICIES = Path(__file__).resolve().parents[2] / "policies"
MAX_POLICY_BYTES = 4 * 1024 * 1024


def snapshot_policy_set(snapshot: Snapshot, folder: str, name: str) -> PolicySet:
    """The policy files under `folder` in one revision (symlinks are never followed)."""
    prefix = folder.strip("/") + "/" if folder.strip("/") not in ("", ".") else ""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(snapshot.files):
        if not path.startswith(prefix):
            continue
        data = snapshot.read(path)
        if data is None:
            continue
        total += len(data)
        if total > MAX_POLICY_BYTES:
            break  # oversized policy folders are cut; policy_set_from_files reports nothing
        files[path[len(prefix):]] = data
    return policy_set_from_files(files, name)


@dataclass(frozen=True)
class PolicyStep:
    """Policies that judge one change, plus the head's repository policies when edited."""

    engine: PolicyEngine
    server: PolicySet
    repository: PolicySet
    proposed: PolicySet | None = None  # the head's repository policies, when they differ
    # evaluates every set that came from a pull request (sandboxed child processes)
    sandbox: EmbeddedEngine = field(default_factory=lambda: EmbeddedEngine(isolated=True))
    repository_trusted: bool = True  # False: the repository set is from an unknown revision

    @staticmethod
    def load(engine: PolicyEngine, server_dir: Path | None, folder: str, trusted: Snapshot,
             head: Snapshot | None, *, trusted_is_protected: bool = True) -> "PolicyStep":
        """Load the server set, the trusted side's repository set and the head's, if edited.

        `trusted_is_protected=False` when `trusted` is not a protected revision (a folder
        reviewed as it stands): its repository policies then run sandboxed too.
        """
        server = (load_policy_set(server_dir, "server") if server_dir
                  else policy_set_from_files({}, "server"))
        repository = snapshot_policy_set(trusted, folder, "repository")
        proposed = None
        if head is not None and head is not trusted:
            candidate = snapshot_policy_set(head, folder, "repository")
            if candidate.revision != repository.revision:
                proposed = candidate
        return PolicyStep(engine, server, repository, proposed,
                          repository_trusted=trusted_is_protected)

    @property
    def repository_engine(self) -> PolicyEngine:
        """The engine for the repository set: the judge's, or the sandbox when untrusted."""
        return self.engine if self.repository_trusted else self.sandbox

    def close(self) -> None:
        """Stop the sandboxed policy processes."""
        self.sandbox.close()

    @property
    def cache_id(self) -> str:
        """Part of every render cache key: the engine and both policy revisions."""
        return cache_key(self.engine.name, self.server.revision, self.repository.revision)

    def resource_findings(self, manifests: Sequence[Manifest]) -> list[Finding]:
        """Resource rules of both layers on one target's rendered objects."""
        return (self.engine.resource_findings(self.server, manifests)
                + self.repository_engine.resource_findings(self.repository, manifests))

    def change_outcome(self, results: Sequence[TargetResult], change: ChangeInfo,
                       reviews: Sequence[Review]
                       ) -> tuple[list[Finding], list[ApprovalRequirement], dict[str, object]]:
        """Change rules of both layers: findings, required approvals and the input used."""
        change_input = build_change_input(results, change, reviews)
        findings: list[Finding] = []
        approvals: list[ApprovalRequirement] = []
        for engine, policies in ((self.engine, self.server),
                                 (self.repository_engine, self.repository)):
            decision = engine.change_decision(policies, change_input)
            findings += decision.findings
            approvals += [a for a in decision.approvals if a not in approvals]
        return findings, approvals, change_input

    def proposal_report(self, manifests_by_target: Mapping[str, Sequence[Manifest]],
                        change_input: Mapping[str, object],
                        folder: str) -> tuple[list[str], list[Attachment]]:
        """Notes and the policy diff for a change that edits the repository's policies."""
        if self.proposed is None:
            return [], []
        notes = [f"This change edits the repository policies in `{folder}/`. It is judged by "
                 "the base revision's policies; the new ones apply after merge."]
        impact = blast_radius(self.repository_engine, self.repository, self.proposed,
                              manifests_by_target, change_input, untrusted=self.sandbox)
        for scope, delta in impact.items():
            where = "the change rules" if scope == CHANGE_SCOPE else scope
            for finding in delta.added:
                notes.append(f"With the new policies, {where} would get: {_describe(finding)}")
            for finding in delta.removed:
                notes.append(f"With the new policies, {where} would lose: {_describe(finding)}")
            for req in delta.approvals_added:
                notes.append(f"With the new policies, {req.count} approval(s) from "
                             f"{req.group} would be required: {req.reason}")
            for req in delta.approvals_removed:
                notes.append(f"With the new policies, {req.count} approval(s) from "
                             f"{req.group} would no longer be required: {req.reason}")
        if not impact:
            notes.append("The new policies give the same findings for this change.")
        attachment = Attachment(f"Policy changes in {folder}/ (not applied to this change)",
                                diff_policy_sets(self.repository, self.proposed))
        return notes, [attachment]


def _describe(finding: Finding) -> str:
    where = f" ({finding.object})" if finding.object else ""
    rule = f"{finding.rule}: " if finding.rule else ""
    return f"{finding.severity.name.lower()} {rule}{finding.message}{where}"
