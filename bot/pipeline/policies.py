"""The policy step of a review: both policy layers, change rules, and policy edits' impact.

The server's policy set and the repository's own set (read from the trusted, base side)
judge every change. When the change edits the repository's policies, the new policies are
evaluated too — only to show what they would add or remove, never to judge this change, and
only in a sandboxed child process: they are code from the pull request. So is the
repository's set when there is no trusted revision (`check DIR` reviews a folder that may be
a pull request's checkout).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bot.gitrepo import Snapshot
from bot.model import (
    ApprovalRequirement,
    Attachment,
    Finding,
    Manifest,
    PolicyImpact,
    Severity,
    TargetResult,
)
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
from bot.policy.impact import PolicyDelta, impact_verdict
from bot.secrets import hide_values, secret_values
from bot.policy.policyset import DATA_FILES, PolicyLoadError, is_test_module, policy_set_from_files

# The bot's own default policies (the `policies/` folder of this project).
DEFAULT_SERVER_POLICIES = Path(__file__).resolve().parents[2] / "policies"
MAX_POLICY_BYTES = 4 * 1024 * 1024


def _is_policy_file(rel: str) -> bool:
    return (rel.endswith(".rego") and not is_test_module(rel)) or PurePosixPath(
        rel
    ).name in DATA_FILES


def snapshot_policy_set(
    snapshot: Snapshot, folder: str, name: str
) -> tuple[PolicySet, list[Finding]]:
    """The policy files under `folder` in one revision, and the ERROR findings for whatever
    stopped them from being evaluated (size limit, unreadable file, bad data): then the set
    is empty and the findings fail the review; nothing is ever cut silently."""
    clean = folder.strip("/")
    prefix = clean + "/" if clean not in ("", ".") else ""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(snapshot.files):
        rel = path[len(prefix) :]
        if not path.startswith(prefix) or not _is_policy_file(rel):
            continue
        data = snapshot.read(path)
        if data is None:
            return _unloaded(
                name,
                f"{path} is a symlink or cannot be read; policy files must be regular files",
                path,
            )
        total += len(data)
        if total > MAX_POLICY_BYTES:
            return _unloaded(
                name,
                f"{path} brings the policy files under {clean or '.'}/ "
                f"over the limit of {MAX_POLICY_BYTES} bytes "
                "(MAX_POLICY_BYTES)",
                path,
            )
        files[rel] = data
    try:
        return policy_set_from_files(files, name), []
    except PolicyLoadError as exc:
        return _unloaded(name, str(exc), prefix.rstrip("/") or ".")


def _unloaded(name: str, reason: str, file: str) -> tuple[PolicySet, list[Finding]]:
    return policy_set_from_files({}, name), [
        Finding(
            Severity.ERROR, "policy", f"the {name} policies were not evaluated: {reason}", file=file
        )
    ]


def _server_set(server_dir: Path | None) -> tuple[PolicySet, list[Finding]]:
    if server_dir is None:
        return policy_set_from_files({}, "server"), []
    try:
        return load_policy_set(server_dir, "server"), []
    except (PolicyLoadError, OSError) as exc:
        return _unloaded("server", str(exc), str(server_dir))


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
    # ERROR findings for policies that could not be loaded (they fail the review)
    load_findings: tuple[Finding, ...] = ()

    @staticmethod
    def load(
        engine: PolicyEngine,
        server_dir: Path | None,
        folder: str,
        trusted: Snapshot,
        head: Snapshot | None,
        *,
        trusted_is_protected: bool = True,
    ) -> "PolicyStep":
        """Load the server set, the trusted side's repository set and the head's, if edited.

        `trusted_is_protected=False` when `trusted` is not a protected revision (a folder
        reviewed as it stands): its repository policies then run sandboxed too. A set that
        cannot be loaded is empty and leaves an ERROR finding in `load_findings`.
        """
        server, problems = _server_set(server_dir)
        repository, more = snapshot_policy_set(trusted, folder, "repository")
        problems += more
        proposed = None
        if head is not None and head is not trusted:
            candidate, head_problems = snapshot_policy_set(head, folder, "repository")
            # the head's own problems only: the same problem at the base is reported once
            problems += [
                dataclasses.replace(f, message=f"after merge, {f.message}")
                for f in head_problems
                if f not in more
            ]
            if candidate.revision != repository.revision and not head_problems:
                proposed = candidate
        return PolicyStep(
            engine,
            server,
            repository,
            proposed,
            repository_trusted=trusted_is_protected,
            load_findings=tuple(problems),
        )

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
        return self.engine.resource_findings(
            self.server, manifests
        ) + self.repository_engine.resource_findings(self.repository, manifests)

    def change_outcome(
        self,
        results: Sequence[TargetResult],
        change: ChangeInfo,
        reviews: Sequence[Review],
        asked: Mapping[str, Mapping[str, object]] | None = None,
        bot_namespace: str = "",
    ) -> tuple[list[Finding], list[ApprovalRequirement], dict[str, object]]:
        """Change rules of both layers: findings, required approvals and the input used
        (`asked`: the approvals the configuration asks per environment; `bot_namespace`:
        where the bot runs, which the default change policies protect)."""
        change_input = build_change_input(results, change, reviews, asked, bot_namespace)
        findings: list[Finding] = []
        approvals: list[ApprovalRequirement] = []
        for engine, policies in (
            (self.engine, self.server),
            (self.repository_engine, self.repository),
        ):
            decision = engine.change_decision(policies, change_input)
            findings += decision.findings
            approvals += [a for a in decision.approvals if a not in approvals]
        return findings, approvals, change_input

    def proposal_report(
        self,
        manifests_by_target: Mapping[str, Sequence[Manifest]],
        findings_by_target: Mapping[str, Sequence[Finding]],
        change_input: Mapping[str, object],
        folder: str,
    ) -> tuple[list[str], list[Attachment], list[PolicyImpact]]:
        """For a change that edits the repository's policies: notes, the policy diff, and
        per target what the new policies would change, over every target of the repository
        (`manifests_by_target`; `findings_by_target` holds each one's findings today). The
        new policies run only in the sandbox."""
        if self.proposed is None:
            return [], [], []
        notes = [
            f"This change edits the repository policies in `{folder}/`. It is judged by "
            "the base revision's policies; the new ones apply after merge, to every app "
            f"({len(manifests_by_target)} targets evaluated with both)."
        ]
        impact = blast_radius(
            self.repository_engine,
            self.repository,
            self.proposed,
            manifests_by_target,
            change_input,
            untrusted=self.sandbox,
        )
        # the new policies' messages may quote any value of any object: mask Secret values
        known = secret_values([m for ms in manifests_by_target.values() for m in ms])
        impacts: list[PolicyImpact] = []
        for scope, raw in impact.items():
            delta = dataclasses.replace(
                raw,
                added=tuple(hide_values(raw.added, known)),
                removed=tuple(hide_values(raw.removed, known)),
            )
            where = "the change rules" if scope == CHANGE_SCOPE else scope
            verdict = impact_verdict(findings_by_target.get(scope, ()), delta)
            impacts.append(PolicyImpact(scope, verdict, delta.added, delta.removed))
            notes.append(f"With the new policies, {where} {verdict}" + _counts(delta))
            for finding in delta.added:
                notes.append(f"With the new policies, {where} would get: {_describe(finding)}")
            for finding in delta.removed:
                notes.append(f"With the new policies, {where} would lose: {_describe(finding)}")
            for req in delta.approvals_added:
                notes.append(
                    f"With the new policies, {req.count} approval(s) from "
                    f"{req.group} would be required: {req.reason}"
                )
            for req in delta.approvals_removed:
                notes.append(
                    f"With the new policies, {req.count} approval(s) from "
                    f"{req.group} would no longer be required: {req.reason}"
                )
        if not impact:
            notes.append("The new policies give the same findings for every app.")
        attachment = Attachment(
            f"Policy changes in {folder}/ (not applied to this change)",
            diff_policy_sets(self.repository, self.proposed),
        )
        return notes, [attachment], impacts


def _counts(delta: PolicyDelta) -> str:
    parts = [
        f"{len(delta.added)} new finding(s)" if delta.added else "",
        f"{len(delta.removed)} finding(s) gone" if delta.removed else "",
    ]
    shown = ", ".join(p for p in parts if p)
    return f" ({shown})." if shown else "."


def _describe(finding: Finding) -> str:
    where = f" ({finding.object})" if finding.object else ""
    rule = f"{finding.rule}: " if finding.rule else ""
    return f"{finding.severity.name.lower()} {rule}{finding.message}{where}"
