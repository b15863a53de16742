"""The targets of a review when Argo CD / Flux objects define them, for both revisions.

The trusted revision's objects decide which targets exist and what they are called (like
`.gitops-bot.yaml`); each revision renders a target with that revision's own copy of the
object (so a change to an Application's helm values or a HelmRelease's values shows in the
rendered objects), and a target whose object is gone from a revision renders nothing
there (what merging removes is shown deleted). Objects only the proposal has are reviewed
too, marked as new. Environments are the objects' own (destination, cluster folder)
unless `environments.<name>.destinations` in the config maps them.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError
from bot.model import Finding, Manifest, Severity, Target
from bot.render import Budgets, render_target
from bot.repo import options
from bot.repo.gitops_targets import Plan, Settings, plan_targets
from bot.repo.repo_config import DEFAULT_KUBERNETES_VERSION, Environment, RepoConfig
from bot.tools import Tools

Read = Callable[[str], bytes | None]


class DiscoveryRenderFailed(Exception):
    """A target looked into for Argo CD / Flux objects did not render."""


@dataclass(frozen=True)
class Side:
    """One revision as discovery sees it; `checkout` gives the materialised tree and the
    sandbox findings of the checkout."""

    name: str
    files: Collection[str]
    read: Read
    checkout: Callable[[], tuple[Path, list[Finding]]]
    # renders a target through the render cache (the review's); None: render directly
    cached: Callable[[Target], tuple[Sequence[Manifest], Sequence[Finding]]] | None = None


@dataclass
class ReviewTargets:
    """The targets in review order, each side's definition of each, notes, the config
    with the discovered environments added."""

    config: RepoConfig
    targets: list[Target]
    sides: dict[tuple[str, str], Target | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def on(self, side: str, target: Target) -> Target | None:
        """`target` as `side` defines it (None: the side does not have it)."""
        return self.sides.get((side, target.id), target)


def mode_of(config: RepoConfig) -> str:
    """apps.from, or its default: `config` when apps are listed, else `auto`."""
    return config.apps_from or ("auto" if config.discovered else "config")


def _renderer(side: Side, tools: Tools, budgets: Budgets) -> Callable[[Target], Sequence[Manifest]]:
    def render(target: Target) -> Sequence[Manifest]:
        root, scan = side.checkout()
        prefix = target.path.rstrip("/") + "/"
        if any(f.file and (f.file == target.path or f.file.startswith(prefix)) for f in scan):
            raise DiscoveryRenderFailed("the checkout scan refused files of it")
        if side.cached is not None:
            manifests, findings = side.cached(target)
        else:
            result = render_target(root, target, tools, budgets)
            manifests, findings = result.manifests, result.findings
        errors = [f.message for f in findings if f.severity is Severity.ERROR]
        if errors:
            raise DiscoveryRenderFailed(f"it does not render: {errors[0].splitlines()[0]}")
        return manifests

    return render


def _environment(target: Target, config: RepoConfig) -> Target:
    """The configured environment whose `destinations` match the target's own, if any."""
    named = next(
        (
            e
            for e in config.environments
            if any(fnmatch.fnmatchcase(target.environment, g) for g in e.destinations)
        ),
        None,
    )
    env_name = named.name if named else target.environment
    env = next((e for e in config.environments if e.name == env_name), None)
    version = env.kubernetes_version if env else DEFAULT_KUBERNETES_VERSION
    return dataclasses.replace(target, environment=env_name, kubernetes_version=version)


def _key(target: Target) -> tuple[str, str]:
    return (
        str(options.of(target).get("key") or f"{target.renderer}:{target.path}"),
        target.environment,
    )


def _plan(
    config: RepoConfig,
    base: Sequence[Target],
    side: Side,
    tools: Tools,
    budgets: Budgets,
    remote_urls: Sequence[str],
) -> Plan:
    settings = Settings(
        mode=mode_of(config),
        repo_urls=config.repo_urls,
        remote_urls=tuple(remote_urls),
        branches=tuple(e.branch for e in config.environments),
    )
    plan = plan_targets(base, side.files, side.read, _renderer(side, tools, budgets), settings)
    plan.targets = [_environment(t, config) for t in plan.targets]
    return plan


def review_targets(
    config: RepoConfig,
    base: Sequence[Target],
    trusted: Side,
    other: Side | None,
    tools: Tools,
    budgets: Budgets,
    environment: str | None = None,
    remote_urls: Sequence[str] = (),
) -> ReviewTargets:
    """The targets to review: `base` (config or folder targets) when the config says so,
    else the Argo CD / Flux targets of `trusted` (and those only `other` has)."""
    if mode_of(config) in ("config", "folders"):
        return ReviewTargets(config, _only(list(base), environment, config))
    mine = _plan(config, base, trusted, tools, budgets, remote_urls)
    theirs = _plan(config, base, other, tools, budgets, remote_urls) if other else None
    out = ReviewTargets(config, [], notes=list(mine.notes))
    if mine.this is not None and mine.this.urls and mine.targets != list(base):
        out.notes.append(
            f"This repository is {', '.join(sorted(mine.this.urls))} ({mine.this.how})."
        )
    by_key = {_key(t): t for t in theirs.targets} if theirs else {}
    taken = {t.id for t in mine.targets}
    for t in mine.targets:
        out.targets.append(t)
        if theirs is not None:
            out.sides[(other.name, t.id)] = by_key.pop(_key(t), None)  # type: ignore[union-attr]
    if theirs is not None:
        _follow_moved_parents(out, other.name)  # type: ignore[union-attr]
    for key, t in sorted(by_key.items()):
        if key[0].startswith(("argocd:", "flux")):
            renamed = _renamed_from(out, other.name, t)  # type: ignore[union-attr]
            if renamed is not None:  # the same source under a new object name: one target
                out.sides[(other.name, renamed.id)] = t  # type: ignore[union-attr]
                out.notes.append(f"{renamed.origin} is renamed: {t.origin}.")
                continue
            app = t.app if t.id not in taken else f"{t.app}-new"
            new = dataclasses.replace(t, app=app, origin=f"{t.origin} — new in this change")
            out.targets.append(new)
            out.sides[(trusted.name, new.id)] = None
            out.sides[(other.name, new.id)] = t  # type: ignore[union-attr]
            taken.add(new.id)
    known = {e.name for e in config.environments}
    extra = sorted({t.environment for t in out.targets} - known)
    out.config = dataclasses.replace(
        config, environments=config.environments + tuple(Environment(name) for name in extra)
    )
    out.targets = _only(out.targets, environment, out.config)
    return out


def _renamed_from(out: ReviewTargets, side: str, new: Target) -> Target | None:
    """The target whose object `side` no longer has and that renders the same source to the
    same place as `new`: the object was renamed (its objects are compared, not all deleted
    and created again; the rename itself shows in the object's own target)."""
    return next(
        (
            t
            for t in out.targets
            if (side, t.id) in out.sides
            and out.sides[(side, t.id)] is None
            and (t.renderer, t.path, t.environment, t.namespace)
            == (new.renderer, new.path, new.environment, new.namespace)
            and t.renderer != "remote"
        ),
        None,
    )


def _follow_moved_parents(out: ReviewTargets, side: str) -> None:
    """A target declared by a parent whose source `side` cannot render (it follows another
    revision or repository there) is not gone on `side`: it is not rendered there either."""
    changed = True
    while changed:
        changed = False
        for t in out.targets:
            parent_path = options.of(t).get("parent")
            if out.sides.get((side, t.id), t) is not None or not parent_path:
                continue
            parents = sorted(
                (p for p in out.targets if p.path == parent_path),
                key=lambda p: p.environment != t.environment,
            )
            moved = next(
                (
                    (p, d)
                    for p in parents
                    if (d := out.on(side, p)) is not None
                    and d.renderer == "remote"
                    and p.renderer != "remote"
                ),
                None,
            )
            if moved is None:
                continue
            remote = options.of(moved[1]).get("remote") or {}
            opts = {
                **options.of(t),
                "remote": {
                    "url": remote.get("url", ""),
                    "path": remote.get("path", ""),
                    "reason": f"its parent {moved[0].id} is not rendered here either",
                },
            }
            out.sides[(side, t.id)] = dataclasses.replace(
                t, renderer="remote", options=options.encode(opts)
            )
            changed = True


def _only(targets: list[Target], environment: str | None, config: RepoConfig) -> list[Target]:
    if environment is None:
        return targets
    names = [e.name for e in config.environments]
    names += sorted({t.environment for t in targets} - set(names))
    if environment not in names:
        raise ConfigError(
            f"unknown environment {environment!r} (known: {', '.join(names)})", file=config.file
        )
    return [t for t in targets if t.environment == environment]
