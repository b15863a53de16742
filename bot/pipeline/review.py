"""Review of one change: affected targets, render base and head, validate, diff.

Orchestration only: the decisions live in targets, render, validate, diff and report.
Configuration comes from the base revision (the judge is not on trial); the head's
`.gitops-bot.yaml` is reported when it differs, never obeyed. What base and head are for a
change request is decided in `bot.pipeline.change` (base tip and merge result). Each stage
of each target runs under `bot.pipeline.stages.run_stage`: one target's failure is that
target's ERROR finding only.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bot import gitrepo, scratch
from bot.dangerous import detect as detect_dangers
from bot.diff import diff_manifests, normalize
from bot.errors import ConfigError
from bot.gitrepo import EmptySnapshot, GitSnapshot, Snapshot, WorktreeSnapshot
from bot.model import (
    MOVED_AWAY,
    NOT_RENDERED,
    Danger,
    Finding,
    Manifest,
    ObjectDiff,
    ReviewResult,
    Severity,
    State,
    Target,
    TargetResult,
    worst,
)
from bot.novelty import deciding, mark_new
from bot.pairing import pair_renames
from bot.pipeline.cache import RenderCache, cache_key, checks_key
from bot.pipeline.gitops import ReviewTargets, review_targets
from bot.pipeline.gitops import Side as GitopsSide
from bot.pipeline.live_compare import LiveFor, compare_with_live
from bot.pipeline.policies import DEFAULT_SERVER_POLICIES, PolicyStep
from bot.pipeline.rendering import Side, TargetRenderer, covered, crashed, failed, schemas_version
from bot.pipeline.stages import run_stage
from bot.policy import ChangeInfo, EmbeddedEngine, PolicyEngine, Review
from bot.render import not_rendered
from bot.render.sandbox import Budgets, resolve_inside
from bot.repo.discovery import discover_config, with_discovered_apps
from bot.repo.kustomize_refs import RepoIndex
from bot.repo.repo_config import CONFIG_FILE, RepoConfig, parse_repo_config
from bot.repo.targets import (
    affected_targets,
    coverage_report,
    expand_targets,
    missing_paths,
    target_inputs,
    uncovered_files,
)
from bot.secrets import hide_values, secret_values
from bot.tools import Tools
from bot.validate import Validator, make_validator

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReviewOptions:
    """How to review: which environment, tools, budgets, cache and parallelism."""

    tools: Tools
    environment: str | None = None
    budgets: Budgets = field(default_factory=Budgets)
    cache_dir: Path | None = None
    parallelism: int = 4
    validator: str = "auto"  # "auto" | "embedded" | "kubeconform"
    progress: Progress | None = None
    policy_engine: PolicyEngine | None = None  # None: the embedded regopy engine
    server_policies: Path | None = DEFAULT_SERVER_POLICIES
    change: ChangeInfo | None = None  # the change request's metadata (forge) if known
    reviews: tuple[Review, ...] = ()
    enforce_approvals: bool = True  # False for local checks, where no reviews exist
    keep_manifests: bool = False  # deploys need every head render (no result-cache shortcut)
    live_for: LiveFor | None = None  # reads what is live per environment (service reviews)
    # the head is a protected branch's commit (deploys): its repository policies are trusted
    head_is_protected: bool = False
    # URLs of this repository (forge / origin remote): Argo CD / Flux sources it renders
    repo_urls: tuple[str, ...] = ()
    # the namespace the bot runs in: the default change policies protect it
    # (docs/security.md#case-75)
    bot_namespace: str = ""


def _read_union(head: Snapshot, base: Snapshot) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        data = head.read(path)
        return data if data is not None else base.read(path)

    return read


def load_config(base: Snapshot, head: Snapshot) -> tuple[RepoConfig, list[str]]:
    """The repository config from the base revision (discovered when it has none)."""
    notes: list[str] = []
    base_text, head_text = base.read(CONFIG_FILE), head.read(CONFIG_FILE)
    source = base_text if not isinstance(base, EmptySnapshot) else head_text
    if head_text != base_text and not isinstance(base, EmptySnapshot):
        notes.append(
            f"This change edits {CONFIG_FILE}; it is reviewed with the base "
            "revision's configuration. The new configuration applies after merge."
        )
    files = gitrepo.all_paths([base, head])
    if source is None:
        return discover_config(files, _read_union(head, base)), notes
    config = parse_repo_config(source, CONFIG_FILE)
    if config.discovered:  # no `apps:` key: find the apps, keep environments and settings
        found = discover_config(files, _read_union(head, base), config.policies_dir)
        config = with_discovered_apps(config, found)
    return config, notes


class Reviewer:
    """Reviews one change between two snapshots."""

    def __init__(self, base: Snapshot, head: Snapshot, options: ReviewOptions) -> None:
        self.options = options
        self.cache = RenderCache(options.cache_dir)
        self._tmp = scratch.mkdtemp("gitops-bot-review-")
        self.base = Side("base", base, self._tmp)
        self.head = Side("head", head, self._tmp)
        self.renderer = TargetRenderer(options.tools, options.budgets, self.cache)
        self._policy: PolicyStep | None = None
        self._manifests: dict[str, tuple[Manifest, ...]] = {}
        self._base_manifests: dict[str, tuple[Manifest, ...]] = {}
        self._planned: ReviewTargets | None = None
        self._block = "new"  # findings.block of the trusted config
        self._sides = ThreadPoolExecutor(
            max(1, options.parallelism), thread_name_prefix="gitops-bot-base"
        )

    @property
    def manifests(self) -> dict[str, tuple[Manifest, ...]]:
        """Head renders by target id (complete only with `keep_manifests`)."""
        return self._manifests

    def close(self) -> None:
        """Remove the private workspace and stop sandboxed policy processes."""
        self._sides.shutdown(wait=True)
        if self._policy is not None:
            self._policy.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def say(self, message: str) -> None:
        if self.options.progress:
            self.options.progress(message)

    def run(self, changed: Collection[str] | None) -> ReviewResult:
        """Review the change; `changed=None` means every target counts as touched."""
        config, notes = load_config(self.base.snapshot, self.head.snapshot)
        self._block = config.findings_block
        self.renderer.deploy_namespaces = {
            e.name: ns for e in config.environments if (ns := e.deploy_namespace)
        }
        files = RepoIndex(gitrepo.all_paths([self.base.snapshot, self.head.snapshot]))
        read = _read_union(self.head.snapshot, self.base.snapshot)
        config_targets = expand_targets(config, files, read)
        missing = missing_paths(config, config_targets, files)
        if missing:
            raise missing[0]
        head_files = RepoIndex(self.head.snapshot.files)
        base_files = RepoIndex(self.base.snapshot.files)
        self._planned = planned = self._targets(config, config_targets, head_files, base_files)
        self.renderer.planned = planned
        config, targets = planned.config, planned.targets
        notes += planned.notes
        inputs = {
            t: target_inputs(planned.on("head", t) or t, head_files, self.head.snapshot.read)
            | target_inputs(planned.on("base", t) or t, base_files, self.base.snapshot.read)
            for t in targets
        }
        touched = targets if changed is None else affected_targets(targets, inputs, changed)
        # with one environment only, files the others read would look uncovered: not listed
        uncovered = (
            ()
            if changed is None or self.options.environment
            else tuple(uncovered_files(changed, inputs.values(), config))
        )
        self.say(f"{len(touched)} of {len(targets)} targets affected")
        trusted = self.head if isinstance(self.base.snapshot, EmptySnapshot) else self.base
        policy = PolicyStep.load(
            self.options.policy_engine or EmbeddedEngine(),
            self.options.server_policies,
            config.policies_dir,
            trusted.snapshot,
            self.head.snapshot,
            trusted_is_protected=(trusted is self.base or self.options.head_is_protected),
        )
        self._policy = self.renderer.policy = policy
        # a policy edit is judged over every target, so every target needs a checked render
        everywhere = policy.proposed is not None
        validator = self._validator(config) if touched or everywhere else None
        self.renderer.checks_id = checks_key(
            validator=type(validator).__name__,
            validation=config.validation,
            schemas=schemas_version(),
            policies=policy.cache_id,
            crds=gitrepo.input_digest(
                trusted.snapshot, [d.rstrip("/") + "/" for d in config.validation.crd_dirs]
            ),
        )
        with ThreadPoolExecutor(max(1, self.options.parallelism)) as pool:
            results = list(
                pool.map(
                    scratch.in_context(lambda t: self._review_target(t, inputs[t], validator)),
                    touched,
                )
            )
            if everywhere:
                rest = [t for t in targets if t not in touched]
                renders = dict(
                    pool.map(
                        scratch.in_context(lambda t: self._checked_render(t, inputs[t], validator)),
                        rest,
                    )
                )
        if changed is not None:  # which changed files reached each target (the report)
            results = [
                dataclasses.replace(
                    r,
                    changed_inputs=tuple(
                        sorted(f for f in changed if covered(f, inputs[r.target]))
                    ),
                )
                for r in results
            ]
        if self.options.live_for is not None and results:
            results = compare_with_live(
                results, config, self._base_manifests, self._manifests, self.options.live_for
            )
        change = self.options.change or ChangeInfo(
            author="",
            base_sha=self.base.snapshot.sha or "",
            head_sha=self.head.snapshot.sha or "",
            changed_files=tuple(sorted(changed if changed is not None else files)),
        )
        asked = {
            e.name: {"count": e.approvals.count, "groups": list(e.approvals.groups)}
            for e in config.environments
            if e.approvals is not None
        }
        findings, approvals, change_input = policy.change_outcome(
            results, change, self.options.reviews, asked, self.options.bot_namespace
        )
        coverage_notes, coverage = coverage_report(uncovered)
        findings = [*policy.load_findings, *findings, *coverage]
        findings = hide_values(
            findings,
            secret_values(
                [
                    m
                    for side in (self._base_manifests, self._manifests)
                    for ms in side.values()
                    for m in ms
                ]
            ),
        )
        manifests, found = {}, {}
        if everywhere:
            manifests = {r.target.id: self._manifests.get(r.target.id, ()) for r in results}
            found = {r.target.id: r.findings for r in results}
            for target_id, (objects, target_findings) in renders.items():
                manifests[target_id], found[target_id] = objects, target_findings
        more_notes, attachments, impacts = policy.proposal_report(
            manifests, found, change_input, config.policies_dir
        )
        notes += coverage_notes
        if not touched and not impacts and not uncovered:
            notes.append("No apps affected by this change.")
        return ReviewResult(
            base=self.base.snapshot.sha,
            head=self.head.snapshot.sha,
            targets=tuple(results),
            findings=tuple(findings),
            notes=tuple(notes + more_notes),
            approvals=tuple(approvals),
            attachments=tuple(attachments),
            approvals_enforced=self.options.enforce_approvals,
            uncovered=uncovered,
            policy_impact=tuple(impacts),
            policy_revisions=(
                ("server", policy.server.revision),
                ("repository", policy.repository.revision),
            ),
        )

    def _targets(
        self,
        config: RepoConfig,
        base_targets: list[Target],
        head_files: RepoIndex,
        base_files: RepoIndex,
    ) -> ReviewTargets:
        """Config / folder targets, or those Argo CD / Flux objects define (pipeline.gitops)."""
        sides = {
            side.name: GitopsSide(
                side.name, files, side.snapshot.read, side.checkout, self._cached(side, files)
            )
            for side, files in ((self.base, base_files), (self.head, head_files))
        }
        trusted = "head" if isinstance(self.base.snapshot, EmptySnapshot) else "base"
        other = None if trusted == "head" else sides["head"]
        return review_targets(
            config,
            base_targets,
            sides[trusted],
            other,
            self.options.tools,
            self.options.budgets,
            self.options.environment,
            self.options.repo_urls,
        )

    def _cached(
        self, side: Side, files: RepoIndex
    ) -> Callable[[Target], tuple[tuple[Manifest, ...], tuple[Finding, ...]]]:
        """Discovery's renders (the folders holding Argo CD / Flux objects) through the render
        cache: a push that leaves their inputs alone renders nothing to find its targets."""

        def render(target: Target) -> tuple[tuple[Manifest, ...], tuple[Finding, ...]]:
            inputs = target_inputs(target, files, side.snapshot.read)
            key = self.renderer.key(side, target, inputs, checked=False)
            return self.renderer.render(side, target, inputs, key, None)

        return render

    def _validator(self, config: RepoConfig) -> Validator:
        """The validator the trusted config asks for; CRD folders read from its revision."""
        settings = config.validation
        prefer = self.options.validator
        if prefer == "auto":
            prefer = {"always": "kubeconform", "never": "embedded"}.get(
                settings.kubeconform, "auto"
            )
        crd_dirs: list[Path] = []
        if settings.crd_dirs:
            trusted = self.head if isinstance(self.base.snapshot, EmptySnapshot) else self.base
            root, _ = trusted.checkout()
            crd_dirs = [
                resolve_inside(root, d, "validation.crd_dirs entry") for d in settings.crd_dirs
            ]
        return make_validator(
            self.options.tools,
            prefer=prefer,
            strict=settings.strict,
            skip_kinds=settings.skip_kinds,
            crd_dirs=crd_dirs,
        )

    def _checked_render(
        self, target: Target, inputs: frozenset[str], validator: Validator | None
    ) -> tuple[str, tuple[tuple[Manifest, ...], tuple[Finding, ...]]]:
        """The proposal's checked render of a target the change does not touch."""
        key = self.renderer.key(self.head, target, inputs, checked=validator is not None)
        return target.id, self.renderer.render(self.head, target, inputs, key, validator)

    def _review_target(
        self, target: Target, inputs: frozenset[str], validator: Validator | None
    ) -> TargetResult:
        started = time.monotonic()
        self.say(f"rendering {target.id} ({target.renderer})")
        moved = self._moved_away(target)
        if moved is not None:
            return TargetResult(
                target, State.SUCCESS, findings=(moved,), seconds=time.monotonic() - started
            )
        unknown: tuple[str | None, str | None] = (None, None)
        keys, errors = run_stage(
            target,
            "render",
            lambda: (
                # the base is checked like the head (cached): its findings tell old from new
                self.renderer.key(self.base, target, inputs, checked=validator is not None),
                self.renderer.key(self.head, target, inputs, checked=validator is not None),
            ),
            unknown,
        )
        if errors:
            return TargetResult(
                target, State.FAILURE, findings=tuple(errors), seconds=time.monotonic() - started
            )
        base_key, head_key = keys
        result_key = cache_key("result", base_key, head_key, self._block)
        # a policy edit needs the head's objects for its blast radius: no result cache then
        proposal = self._policy is not None and self._policy.proposed is not None
        skip = proposal or self.options.keep_manifests or self.options.live_for is not None
        hit = None if skip else self.cache.get_result(result_key, target)
        if hit is not None:  # neither side's inputs changed since a previous review
            return hit
        # both sides render at once (the tools are bounded by render.TOOL_SLOTS)
        base_job = self._sides.submit(
            scratch.in_context(self.renderer.render), self.base, target, inputs, base_key, validator
        )
        after, findings = self.renderer.render(self.head, target, inputs, head_key, validator)
        before, base_findings = base_job.result()
        self._manifests[target.id] = after
        self._base_manifests[target.id] = before
        head_failed = failed(findings)
        if not head_failed:  # values a chart makes up on every render are not changes
            before, after = self.renderer.steady(
                (self.base, self.head), target, inputs, (base_key, head_key), before, after
            )
        renames = pair_renames(before, after, normalize)
        all_findings = mark_new(findings, base_findings, renames)
        if failed(base_findings):
            all_findings.append(
                Finding(
                    Severity.WARNING,
                    "render",
                    "the base revision does not render cleanly, so the "
                    "diff may show more than this change",
                    file=target.path,
                )
            )
        compared: tuple[list[ObjectDiff], list[Danger]] = ([], [])
        if not head_failed:
            compared, errors = run_stage(
                target,
                "diff",
                lambda: (
                    diff_manifests(before, after, renames=renames),
                    detect_dangers(before, after, normalize, renames),
                ),
                compared,
            )
            all_findings += errors
        diffs, dangers = compared
        state = worst(
            (f.severity.state for f in deciding(all_findings, self._block)), default=State.SUCCESS
        )
        result = TargetResult(
            target,
            state,
            diffs=tuple(diffs),
            findings=tuple(all_findings),
            seconds=time.monotonic() - started,
            dangers=tuple(dangers),
        )
        if not crashed(all_findings):
            self.cache.put_result(result_key, result)
        return result

    def _moved_away(self, target: Target) -> Finding | None:
        """The warning of a target that merging points at a source this review cannot
        render (another revision or repository): it is not deleted, its objects are not
        compared, and the change of the object that points there is in its own target."""
        before, after = self.renderer.on(self.base, target), self.renderer.on(self.head, target)
        if (
            before is None
            or after is None
            or before.renderer == "remote"
            or after.renderer != "remote"
        ):
            return None
        note = not_rendered(after)
        return dataclasses.replace(
            note,
            message=note.message.replace(
                NOT_RENDERED, f"{MOVED_AWAY} (its objects are not compared, and not deleted):", 1
            ),
        )


def render_revision(
    repo: Path, sha: str, options: ReviewOptions
) -> tuple[ReviewResult, dict[str, tuple[Manifest, ...]]]:
    """Render, validate and policy-check every target of a commit (all objects created);
    also returns each target's rendered objects by target id (what a deploy applies)."""
    options = dataclasses.replace(options, keep_manifests=True)
    reviewer = Reviewer(EmptySnapshot(), GitSnapshot(repo, sha), options)
    try:
        result = reviewer.run(None)
        return result, dict(reviewer.manifests)
    finally:
        reviewer.close()
        reviewer.head.snapshot.close()


def review_worktree(root: Path, options: ReviewOptions) -> ReviewResult:
    """Review a directory as it stands: every object counts as created."""
    if not root.is_dir():
        raise ConfigError(f"{root} is not a directory")
    return run_review(EmptySnapshot(), WorktreeSnapshot(root), None, options)


def run_review(
    base: Snapshot, head: Snapshot, changed: Collection[str] | None, options: ReviewOptions
) -> ReviewResult:
    """Review `head` against `base` (`changed`: the files that differ; None: all count)."""
    reviewer = Reviewer(base, head, options)
    try:
        return reviewer.run(changed)
    finally:
        reviewer.close()
        for snap in (base, head):
            snap.close()
