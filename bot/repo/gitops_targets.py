"""PURE (renders through a callback): the targets Argo CD and Flux objects define.

Starting from the folder (or configured) targets and the Flux bootstrap folders, every
target that may hold Argo CD / Flux objects is looked into — a plain folder by its files,
a chart or kustomization by its render (app of apps) — and the Applications,
ApplicationSets, Kustomizations and HelmReleases found become targets, which are looked
into in turn. A folder target whose path such an object deploys gives way to it. This
runs to a fixed point (bounded); what could not be looked into is noted, never skipped.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace

from bot.model import Manifest, Target
from bot.repo import argocd, flux, options
from bot.repo.gitops_objects import Found, from_render, mentions, scan_files
from bot.repo.kustomize_refs import KUSTOMIZATION_FILES, RepoIndex, dir_prefix, direct_refs, walk
from bot.repo.repourl import ThisRepo, decide

Read = Callable[[str], bytes | None]
Render = Callable[[Target], Sequence[Manifest]]
MAX_ROUNDS = 8
MODES = ("auto", "argocd", "flux", "folders", "config")


@dataclass(frozen=True)
class Settings:
    """How to find apps: `mode` (apps.from), URLs of this repository, reviewed branches."""

    mode: str = "auto"
    repo_urls: tuple[str, ...] = ()
    remote_urls: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()


@dataclass
class Plan:
    """The targets, notes for the report, and how "this repository" was decided."""

    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    this: ThisRepo | None = None


def _is_gitops(target: Target) -> bool:
    return target.origin.startswith(("Argo CD", "Flux"))


def _used_urls(found: Sequence[Found]) -> list[str]:
    urls = []
    for item in found:
        spec = item.spec
        if item.kind == "GitRepository":
            urls.append(str(spec.get("url") or ""))
        template = spec.get("template") if item.kind == "ApplicationSet" else None
        app_spec = template.get("spec") if isinstance(template, dict) else spec
        if item.kind in ("Application", "ApplicationSet") and isinstance(app_spec, dict):
            sources = app_spec.get("sources") or [app_spec.get("source") or {}]
            urls += [
                str(s.get("repoURL") or "")
                for s in sources
                if isinstance(s, dict) and not s.get("chart")
            ]
    return [u for u in urls if u and "{{" not in u]


class Planner:
    """One revision's discovery: files, a reader and a render callback."""

    def __init__(self, files: Collection[str], read: Read, render: Render | None) -> None:
        self.index = RepoIndex.of(files)
        self.read, self.render_fn = read, render
        self.raw = scan_files(self.index, read)
        # files kustomizations use (resources, patches...): their objects come out of renders
        self.referenced: set[str] = set()
        for kdir in sorted(
            {
                posixpath.dirname(f) or "."
                for f in self.index
                if posixpath.basename(f) in KUSTOMIZATION_FILES
            }
        ):
            self.referenced |= direct_refs(kdir, self.index, read)[0]
        self.rendered: dict[Target, list[Found]] = {}
        self.notes: list[str] = []

    def inputs(self, target: Target) -> set[str]:
        if target.renderer == "kustomize" and self.index.kustomization_file(target.path):
            return walk(target.path, self.index, self.read).inputs
        return {dir_prefix(target.path)}

    def objects(self, target: Target) -> list[Found]:
        """The Argo CD / Flux objects (and ConfigMaps) a target's render holds."""
        if target in self.rendered:
            return self.rendered[target]
        found: list[Found] = []
        if target.renderer == "plain":
            recurse = options.of(target).get("directory", {"recurse": True}).get("recurse")
            prefix = dir_prefix(target.path)
            found = [
                replace(f, parent=target)
                for f in self.raw
                if f.file.startswith(prefix) and (recurse or "/" not in f.file[len(prefix) :])
            ]
        elif target.renderer in ("kustomize", "helm") and self._may_hold(target):
            if self.render_fn is None:
                self.notes.append(
                    f"{target.id}: not looked into for Argo CD / Flux objects (no renderer here)"
                )
            else:
                try:
                    found = from_render(list(self.render_fn(target)), target)
                except Exception as exc:  # noqa: BLE001 - the review reports the render
                    self.notes.append(
                        f"{target.id}: could not look for Argo CD / Flux objects ({exc})"
                    )
        self.rendered[target] = found
        return found

    def _may_hold(self, target: Target) -> bool:
        if options.of(target).get("generate"):
            prefix = dir_prefix(target.path)
            return any(
                mentions(self.read(f))
                for f in self.index
                if f.startswith(prefix) and f.endswith((".yaml", ".yml"))
            )
        paths = self.inputs(target) | {dir_prefix(target.path)}
        for f in self.index:
            name = posixpath.basename(f)
            if name in KUSTOMIZATION_FILES or not f.endswith((".yaml", ".yml", ".tpl")):
                continue
            if any(f == p or (p.endswith("/") and f.startswith(p)) for p in paths) and mentions(
                self.read(f)
            ):
                return True
        return False

    def derive(
        self, found: list[Found], everything: list[Found], this: ThisRepo
    ) -> tuple[list[Target], list[str]]:
        a = argocd.read_all(found, self.index, self.read, this)
        f = flux.read_all(found, self.index, this, everything)
        return a.targets + f.targets, a.problems + f.problems


def _claimed(targets: Sequence[Target], planner: Planner) -> set[str]:
    """Folders the Argo CD / Flux targets deploy: their paths, the kustomizations they use,
    everything below a folder Flux generates a kustomization for (or Argo CD recurses)."""
    out = set()
    for t in targets:
        opts = options.of(t)
        if t.renderer == "remote":
            path = (opts.get("remote") or {}).get("path") or ""
            if path and "://" not in path:
                out.add(path.strip("/").removeprefix("./") or ".")
            continue
        out.add(t.path)
        if opts.get("generate") or (opts.get("directory") or {}).get("recurse"):
            prefix = dir_prefix(t.path)
            out |= {d for d in planner.index.dirs if d.startswith(prefix)}
        elif t.renderer == "kustomize":
            out |= {i.rstrip("/") for i in planner.inputs(t) if i.endswith("/")}
    return out


def plan_targets(
    base: Sequence[Target],
    files: Collection[str],
    read: Read,
    render: Render | None,
    settings: Settings = Settings(),
) -> Plan:
    """Targets from Argo CD / Flux objects beside the folder or config targets `base`."""
    plan = Plan(targets=list(base))
    if settings.mode in ("folders", "config"):
        return plan
    planner = Planner(files, read, render)
    roots = [
        flux.bootstrap_target(folder, env, planner.index)
        for folder, env in sorted(flux.bootstrap_roots(planner.index).items())
    ]
    base = _name_roots(base, planner)
    plan.targets = list(base)
    seeds = [*roots, *base]
    first = [f for t in seeds for f in planner.objects(t)] + planner.raw
    this = decide(settings.repo_urls, settings.remote_urls, _used_urls(first), settings.branches)
    plan.this = this
    derived: list[Target] = []
    problems: list[str] = []
    for _ in range(MAX_ROUNDS):
        claimed = _claimed(derived, planner)
        current = [*roots, *[t for t in base if t.path not in claimed], *derived]
        found = [f for t in current for f in planner.objects(t)]
        inside = {f.file for f in found}
        loose = [
            f
            for f in planner.raw
            if f.file not in inside  # objects no target holds
            and f.file not in planner.referenced
        ]
        new, problems = planner.derive(found + loose, found + loose, this)
        new = _unique(roots + [_with_parent_inputs(t, current, planner) for t in new])
        if new == derived:
            break
        derived = new
    else:
        problems.append(
            f"Argo CD / Flux objects nest more than {MAX_ROUNDS} levels deep; "
            "the deeper ones are not reviewed"
        )
    plan.notes = sorted(set(problems + planner.notes))
    gitops = [t for t in derived if _keep(t, settings.mode)]
    if not gitops and settings.mode == "auto":
        return plan
    claimed = _claimed(derived, planner)
    folders = [t for t in base if t.path not in claimed] if settings.mode == "auto" else []
    plan.targets = _distinct(gitops + folders, plan.notes)
    return plan


def _with_parent_inputs(target: Target, current: Sequence[Target], planner: Planner) -> Target:
    """A target declared by another target's render also reads what its parent reads (the
    parent's values or patches shape the object that defines it)."""
    opts = options.of(target)
    parent_path = opts.get("parent")
    if not parent_path:
        return target
    parents = sorted(
        (p for p in current if p.path == parent_path),
        key=lambda p: p.environment != target.environment,
    )
    if not parents:
        return target
    parent = parents[0]
    extra = planner.inputs(parent) | set(options.inputs(parent))
    opts["inputs"] = sorted(set(opts.get("inputs") or []) | extra)
    return replace(target, options=options.encode(opts))


ENV_PARENTS = ("envs", "environments", "env", "clusters")


def _holds_applications(target: Target, planner: Planner) -> bool:
    return (
        target.environment == argocd.DEFAULT_ENVIRONMENT
        and target.path not in ("", ".")
        and not _is_gitops(target)
        and any(
            f.kind == "Application" and f.group == "argoproj.io" for f in planner.objects(target)
        )
    )


def _name_roots(base: Sequence[Target], planner: Planner) -> list[Target]:
    """Per-environment copies of an app of apps (`envs/dev`, `envs/prod`: folders of no named
    environment holding Argo CD Applications, under an `envs`-like folder or beside each
    other) are named for their folder, and the Applications they hold inherit it."""
    roots = [t for t in base if _holds_applications(t, planner)]
    parents = [posixpath.dirname(t.path) for t in roots]
    out = []
    for target in base:
        if target not in roots:
            out.append(target)
            continue
        parent = posixpath.dirname(target.path)
        if posixpath.basename(parent) not in ENV_PARENTS and parents.count(parent) < 2:
            out.append(target)
            continue
        named = replace(
            target,
            environment=posixpath.basename(target.path),
            options=options.encode({**options.of(target), "env_from": "folder"}),
        )
        planner.rendered[named] = [replace(f, parent=named) for f in planner.rendered[target]]
        out.append(named)
    return out


def _keep(target: Target, mode: str) -> bool:
    if mode == "argocd":
        return target.origin.startswith("Argo CD")
    if mode == "flux":
        return target.origin.startswith("Flux")
    return _is_gitops(target)


def _unique(targets: Sequence[Target]) -> list[Target]:
    """Targets in a stable order, the same definition once (its origins joined)."""
    by_def: dict[tuple[str, ...], Target] = {}
    for t in sorted(targets, key=lambda t: (t.environment, t.path, t.app, t.origin)):
        key = (
            t.environment,
            t.renderer,
            t.path,
            *t.values,
            t.release or "",
            t.namespace or "",
            _render_options(t),
        )
        if key not in by_def:
            by_def[key] = t
        elif t.origin not in by_def[key].origin:
            by_def[key] = replace(by_def[key], origin=f"{by_def[key].origin}; {t.origin}")
    return list(by_def.values())


def _render_options(target: Target) -> str:
    opts = {
        k: v
        for k, v in options.of(target).items()
        if k not in ("argocd", "flux", "parent", "inputs", "env_from", "key")
    }
    return options.encode(opts)


def _distinct(targets: Sequence[Target], notes: list[str]) -> list[Target]:
    """Unique target ids: a second definition of the same app in the same environment is
    renamed `<app>-2` (and noted: Argo CD / Flux would make them replace each other)."""
    out: list[Target] = []
    taken: dict[str, Target] = {}
    for t in targets:
        if t.id in taken:
            n = 2
            while f"{t.app}-{n}/{t.environment}" in taken:
                n += 1
            notes.append(
                f"{t.app} in {t.environment} is defined twice ({taken[t.id].origin}; "
                f"{t.origin}); the second is reviewed as {t.app}-{n}"
            )
            t = replace(t, app=f"{t.app}-{n}")
        taken[t.id] = t
        out.append(t)
    return out
