"""One target rendered on one side of a change, with its checks, through the render cache.

Each stage (render, duplicates, validate, policy) runs under `stages.run_stage`, so one
target's failure is that target's ERROR finding only; a stage that crashed is never cached.
Secret values are masked in every finding before it is stored or returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from importlib import metadata
from pathlib import Path

from bot import gitrepo
from bot.errors import GitopsBotError
from bot.gitrepo import Snapshot
from bot.model import Finding, Manifest, RenderResult, Severity, Target
from bot.diff import normalize
from bot.pipeline.cache import RenderCache, cache_key, render_key
from bot.pipeline.gitops import ReviewTargets
from bot.pipeline.policies import PolicyStep
from bot.pipeline.stages import run_stage
from bot.render import render_target
from bot.render.chartscan import chart_may_vary
from bot.render.sandbox import Budgets, scan_checkout, unreadable_findings
from bot.secrets import hide_values, secret_values
from bot.tools import Tools, tool_version
from bot.validate import Validator, duplicate_findings
from bot.volatile import steady

Rendered = tuple[tuple[Manifest, ...], tuple[Finding, ...]]


class Side:
    """One revision being reviewed: its snapshot, a lazily materialised checkout."""

    def __init__(self, name: str, snapshot: Snapshot, workdir: Path) -> None:
        self.name, self.snapshot, self._workdir = name, snapshot, workdir
        self._root: Path | None = None
        self._scan: list[Finding] = []
        self._lock = threading.Lock()

    def checkout(self) -> tuple[Path, list[Finding]]:
        """The materialised tree and the sandbox scan's findings (done once)."""
        with self._lock:
            if self._root is None:
                self._root = self.snapshot.materialize(self._workdir / self.name)
                self._scan = scan_checkout(self._root) + unreadable_findings(
                    self.snapshot.unreadable
                )
            return self._root, self._scan


class TargetRenderer:
    """Renders targets with one set of tools, budgets and checks (`checks_id`, `policy`)."""

    def __init__(self, tools: Tools, budgets: Budgets, cache: RenderCache) -> None:
        self.tools, self.budgets, self.cache = tools, budgets, cache
        self.checks_id = ""
        self.policy: PolicyStep | None = None
        self.deploy_namespaces: Mapping[str, str] = {}  # environment -> deploy namespace
        # each side's definition of a target Argo CD / Flux objects define (pipeline.gitops)
        self.planned: ReviewTargets | None = None

    def on(self, side: Side, target: Target) -> Target | None:
        """`target` as `side` defines it (None: the side does not have it)."""
        return self.planned.on(side.name, target) if self.planned else target

    def namespace(self, target: Target) -> str:
        """Where a namespaced object without a namespace lands, as deploys place it."""
        return target.namespace or self.deploy_namespaces.get(target.environment) or "default"

    def key(self, side: Side, target: Target, inputs: frozenset[str], checked: bool) -> str | None:
        """Cache key of one side's render, or None when the app is absent on that side."""
        snapshot = side.snapshot
        defined = self.on(side, target)
        if defined is None:
            return None  # the Argo CD / Flux object that defines it is gone on this side
        target = defined
        root = target.path.strip("/") in ("", ".")
        prefix = target.path.rstrip("/") + "/"
        if not (root and snapshot.files) and not any(
            p == target.path or p.startswith(prefix) for p in snapshot.files
        ):
            return None
        return render_key(
            target=target,
            tool=self.tool_id(target),
            budgets=self.budgets,
            inputs=gitrepo.input_digest(snapshot, inputs),
            checks=self.checks_id if checked else None,
            namespace=self.namespace(target),
        )

    def render(
        self,
        side: Side,
        target: Target,
        inputs: frozenset[str],
        key: str | None,
        validator: Validator | None,
    ) -> Rendered:
        """The target's objects on `side` and the findings of every stage (checks only with
        a `validator`); from the cache when `key` is in it."""
        if key is None:
            return (), ()  # the app does not exist on this side: nothing rendered
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        nowhere: tuple[Path, list[Finding]] = (Path(), [])
        (root, scan), errors = run_stage(target, "render", side.checkout, nowhere)
        blocked = errors or [f for f in scan if f.file and covered(f.file, inputs)]
        if blocked:
            return (), tuple(blocked)
        target = self.on(side, target) or target
        rendered, findings = run_stage(
            target,
            "render",
            lambda: render_target(root, target, self.tools, self.budgets),
            RenderResult(target),
        )
        findings += rendered.findings
        if validator is not None and rendered.ok and not failed(findings):
            objects = rendered.manifests
            landing = self.namespace(target)
            findings += checked(target, "duplicates", lambda: duplicate_findings(objects, landing))
            findings += checked(
                target, "validate", lambda: validator.validate(objects, target.kubernetes_version)
            )
            if self.policy is not None:
                step = self.policy
                findings += checked(target, "policy", lambda: step.resource_findings(objects))
        findings = hide_values(findings, secret_values(rendered.manifests))
        if not crashed(findings):  # a crash is never cached: the next run may not crash
            self.cache.put(key, rendered.manifests, findings)
        return rendered.manifests, tuple(findings)

    def steady(
        self,
        sides: tuple[Side, Side],
        target: Target,
        inputs: frozenset[str],
        keys: tuple[str | None, str | None],
        before: tuple[Manifest, ...],
        after: tuple[Manifest, ...],
    ) -> tuple[tuple[Manifest, ...], tuple[Manifest, ...]]:
        """For the diff: a chart's values made up anew on each render (random passwords and
        their checksums) marked on both sides, found by rendering each side once more."""
        if (
            target.renderer != "helm"
            or None in keys
            or not before
            or not after
            or {m.key: normalize(m.body) for m in before}
            == {m.key: normalize(m.body) for m in after}
        ):
            return before, after
        if not any(
            chart_may_vary(root / (self.on(side, target) or target).path)
            for side in sides
            for root, _ in (side.checkout(),)
        ):
            return before, after  # no template makes anything up: renders are repeatable
        again = []
        for side, key in zip(sides, keys, strict=True):
            objs, problems = self.render(side, target, inputs, cache_key(key, "again"), None)
            if failed(problems):
                return before, after
            again.append(objs)
        steady_before, steady_after = steady(before, after, again[1], again[0])
        return tuple(steady_before), tuple(steady_after)

    def tool_id(self, target: Target) -> str:
        """The renderer and its version (part of every cache key)."""
        try:
            if target.renderer == "helm" and self.tools.helm:
                return f"helm {tool_version(self.tools.helm)}"
            if target.renderer == "kustomize" and self.tools.kubectl:
                return f"kubectl {tool_version(self.tools.kubectl)}"
        except GitopsBotError:
            return "unknown"
        return target.renderer


def checked(target: Target, stage: str, work: Callable[[], list[Finding]]) -> list[Finding]:
    """The findings of one check stage, or the ERROR finding of its failure."""
    nothing: list[Finding] = []
    found, errors = run_stage(target, stage, work, nothing)
    return [*found, *errors]


def crashed(findings: Sequence[Finding]) -> bool:
    """Whether a stage crashed (its result must not be cached)."""
    return any(f.message.startswith("internal error in the ") for f in findings)


def failed(findings: Sequence[Finding]) -> bool:
    """Whether the render itself failed (no objects to check or diff)."""
    return any(f.severity is Severity.ERROR and f.check in ("render", "sandbox") for f in findings)


def covered(path: str, inputs: Collection[str]) -> bool:
    """Whether repository file `path` is one of `inputs` (files, `dir/` prefixes, `""`)."""
    return any(
        path in (p, p.removesuffix("/")) or (p.endswith("/") and path.startswith(p)) or p == ""
        for p in inputs
    )


def schemas_version() -> str:
    """The version of the package whose Kubernetes schemas the validators use."""
    try:
        return metadata.version("kubernetes-validate")
    except metadata.PackageNotFoundError:
        return "unknown"
