"""PURE: RepoConfig + files of a revision -> Targets (app x env), their inputs, affected ones."""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from bot.errors import ConfigError
from bot.repo.kustomize_refs import Read, RepoIndex, dir_prefix, join, walk
from bot.model import Finding, Severity, Target
from bot.repo import options
from bot.repo.repo_config import CONFIG_FILE, App, DeployKubernetes, RepoConfig
from bot.repo.safeyaml import load_one

MAX_CHARTS = 200
_CHART_DIRS = ("templates/", "charts/", "crds/")
_CHART_FILES = (
    "Chart.yaml",
    "Chart.lock",
    "requirements.yaml",
    "requirements.lock",
    "values.yaml",
    "values.schema.json",
    ".helmignore",
)


def detect_renderer(path: str, files: Collection[str]) -> str:
    """kustomize when `path` holds a kustomization, helm when it holds Chart.yaml, else plain."""
    index = RepoIndex.of(files)
    if index.kustomization_file(path):
        return "kustomize"
    if index.is_file("Chart.yaml" if path == "." else f"{path}/Chart.yaml"):
        return "helm"
    return "plain"


def _app_paths(config: RepoConfig) -> set[str]:
    """Every folder or file some app renders, in any environment."""
    paths = {app.path for app in config.apps if app.path}
    paths |= {o.path for app in config.apps for o in app.environments or () if o.path}
    return paths


def _inside(path: str, folder: str) -> bool:
    return folder in ("", ".") and path not in ("", ".") or path.startswith(folder + "/")


def _deploy_namespace(config: RepoConfig, env_name: str) -> str | None:
    """The namespace the environment deploys into, when its deploy target names one (helm
    renders `.Release.Namespace` as that, not `default`)."""
    deploy = config.environment(env_name).deploy
    return deploy.namespace if isinstance(deploy, DeployKubernetes) else None


def _target(
    config: RepoConfig, app: App, env_name: str, index: RepoIndex, app_paths: Collection[str]
) -> Target:
    override = app.override(env_name)
    path = (override.path if override else None) or app.path
    assert path is not None  # the parser guarantees a path for every covered environment
    renderer = app.renderer or detect_renderer(path, index)
    values = app.values + (override.values if override else ())
    if values and renderer != "helm":
        key = f"apps.{app.name}.values"
        raise ConfigError(
            f"values files need renderer helm, but {path} renders with {renderer}",
            file=config.file,
            line=config.lines.get(key),
            key=key,
        )
    return Target(
        app=app.name,
        environment=env_name,
        renderer=renderer,
        path=path,
        values=values,
        release=((override.release if override else None) or app.release or app.name)
        if renderer == "helm"
        else None,
        namespace=(override.namespace if override else None)
        or app.namespace
        or (_deploy_namespace(config, env_name) if renderer == "helm" else None),
        kubernetes_version=config.environment(env_name).kubernetes_version,
        helm_hooks=renderer == "helm" and config.helm_hooks == "include",
        exclude=tuple(sorted(p for p in app_paths if _inside(p, path)))
        if renderer == "plain"
        else (),
    )


def expand_targets(
    config: RepoConfig, files: Collection[str], read: Read, environment: str | None = None
) -> list[Target]:
    """Every app x environment it covers (apps, then environments, in config order).

    `read` is unused today (detection needs file names only) but keeps the signature stable.
    """
    del read
    if environment is not None and environment not in config.environment_names:
        raise ConfigError(
            f"unknown environment {environment!r} (known: {', '.join(config.environment_names)})",
            file=config.file,
        )
    index = RepoIndex.of(files)
    app_paths = _app_paths(config)
    return [
        _target(config, app, env.name, index, app_paths)
        for app in config.apps
        for env in config.environments
        if (environment is None or env.name == environment) and app.covers(env.name)
    ]


def _chart_dependencies(chart: str, read: Read) -> list[str] | None:
    """Repository-relative folders of a chart's `file://` dependencies; None when a chart
    file is too large or malformed to read here (the renderer reports it)."""
    out: list[str] = []
    for name in ("Chart.yaml", "requirements.yaml"):
        content = read(f"{chart}/{name}" if chart != "." else name)
        if content is None:
            continue
        data: Any = load_one(content)
        if not isinstance(data, dict):
            return None
        deps = data.get("dependencies")
        for dep in deps if isinstance(deps, list) else ():
            repo = dep.get("repository") if isinstance(dep, dict) else None
            if isinstance(repo, str) and repo.startswith("file://"):
                path = join(chart, repo[len("file://") :])
                if path is not None:
                    out.append(path)
    return out


def _is_other_values(rel: str, path: str, ours: Collection[str]) -> bool:
    """A values file of another environment lying in the chart folder (helm never reads it
    unless given with -f), so a change to it must not touch this target."""
    return (
        rel != "values.yaml"
        and "values" in rel.lower()
        and rel.endswith((".yaml", ".yml"))
        and not rel.startswith(_CHART_DIRS)
        and path not in ours
    )


def _chart_files(chart: str, files: Collection[str], values: Collection[str]) -> set[str]:
    prefix = dir_prefix(chart)
    out = {prefix + name for name in _CHART_DIRS + _CHART_FILES}
    for path in files:
        if path.startswith(prefix) and not _is_other_values(path[len(prefix) :], path, values):
            rel = path[len(prefix) :]
            out.add(prefix + rel.split("/", 1)[0] + "/" if rel.startswith(_CHART_DIRS) else path)
    return out


def _helm_inputs(target: Target, files: Collection[str], read: Read) -> set[str]:
    """Fails closed like `kustomize_refs.walk`: past MAX_CHARTS charts, or when a chart file
    cannot be read here, every file of the repository counts as an input (`""`)."""
    inputs = set(target.values) | _chart_files(target.path, files, target.values)
    todo, seen = _chart_dependencies(target.path, read), {target.path}
    while todo:
        if len(seen) > MAX_CHARTS:
            todo = None
            break
        chart = todo.pop()
        if chart not in seen:
            seen.add(chart)
            inputs.add(dir_prefix(chart))
            more = _chart_dependencies(chart, read)
            if more is None:
                todo = None
                break
            todo.extend(more)
    if todo is None:
        inputs.add("")
    return inputs


def _plain_inputs(target: Target, index: RepoIndex) -> set[str]:
    """The plain renderer's files: the folder, less subfolders of other apps, kustomizations
    and charts (listed file by file only where such a subfolder must be left out)."""
    if index.is_file(target.path):
        return {target.path}
    top = dir_prefix(target.path)
    skip = set(target.exclude) | {
        d
        for d in index.dirs
        if d.startswith(top)
        and d not in (".", target.path)
        and (index.kustomization_file(d) or index.is_file(f"{d}/Chart.yaml"))
    }
    if not skip:
        return {top}
    inputs: set[str] = set()
    for path in index.files:
        if not path.startswith(top):
            continue
        parent = posixpath.dirname(path)
        if _left_out(parent, skip, target.path):
            continue
        # the highest folder of `path` that holds nothing left out stands for all of it
        inputs.add(_widest(parent, skip, target.path) or path)
    return inputs


def _left_out(folder: str, skip: Collection[str], top: str) -> bool:
    while folder and folder != top and folder != ".":
        if folder in skip:
            return True
        folder = posixpath.dirname(folder)
    return False


def _widest(folder: str, skip: Collection[str], top: str) -> str | None:
    """The highest folder between `folder` and `top` (excluded) with nothing skipped below."""
    best = None
    while folder and folder != top and folder != ".":
        prefix = folder + "/"
        if any(s.startswith(prefix) for s in skip):
            break
        best = prefix
        folder = posixpath.dirname(folder)
    return best


def target_inputs(target: Target, files: Collection[str], read: Read) -> frozenset[str]:
    """Every repo path the render of `target` reads: files exact, folders as `dir/` prefixes.

    helm: the chart's files and folders except other environments' values files in it,
    plus the target's values files and `file://` dependencies (whole folders).

    Remote references are left out (the renderer refuses them). `.gitops-bot.yaml` is never an
    input: config changes are handled by the pipeline.
    """
    if target.renderer == "kustomize":
        inputs = walk(target.path, RepoIndex.of(files), read).inputs
    elif target.renderer == "helm":
        inputs = _helm_inputs(target, files, read)
    elif target.renderer == "remote":
        inputs = {target.path}  # the file declaring it
    else:
        inputs = _plain_inputs(target, RepoIndex.of(files))
    inputs |= set(options.inputs(target))  # what Argo CD / Flux objects add (bot.repo.options)
    inputs.discard(CONFIG_FILE)
    return frozenset(inputs)


def is_input(path: str, inputs: Collection[str]) -> bool:
    """Whether repo file `path` equals an input file or lies under an input folder."""
    if path == CONFIG_FILE:
        return False
    return any(path == i or (i.endswith("/") or i == "") and path.startswith(i) for i in inputs)


def missing_paths(
    config: RepoConfig, targets: Sequence[Target], files: Collection[str]
) -> list[ConfigError]:
    """A config error for each app path (or environment path) that names no folder or file
    of the repository (base or proposal): such an app would silently review nothing."""
    index = RepoIndex.of(files)
    errors: list[ConfigError] = []
    seen: set[str] = set()
    for target in targets:
        path = target.path
        if path in seen or path in (".", "") or index.is_dir(path) or index.is_file(path):
            continue
        seen.add(path)
        app = config.app(target.app) if not config.discovered else None
        override = app.override(target.environment) if app else None
        key = (
            f"apps.{target.app}.environments.{target.environment}.path"
            if override and override.path
            else f"apps.{target.app}.path"
        )
        errors.append(
            ConfigError(
                f"{path} does not exist in the repository",
                file=config.file,
                line=config.lines.get(key),
                key=key,
            )
        )
    return errors


def uncovered_files(
    changed: Collection[str], inputs: Iterable[Collection[str]], config: RepoConfig
) -> list[str]:
    """Changed files that no target reads ("not part of any app"), sorted. The rules are
    not uncovered: `.gitops-bot.yaml`, the policies folder and the CRD folders."""
    rules = tuple(
        p for p in (dir_prefix(d) for d in (config.policies_dir, *config.validation.crd_dirs)) if p
    )
    every = [frozenset(i) for i in inputs]
    return sorted(
        f
        for f in changed
        if f != CONFIG_FILE and not f.startswith(rules) and not any(is_input(f, i) for i in every)
    )


def coverage_report(uncovered: Sequence[str], shown: int = 20) -> tuple[list[str], list[Finding]]:
    """The report's note naming changed files no target reads, and a warning when YAML or
    JSON files are among them: they may be manifests that nothing reviews or deploys."""
    if not uncovered:
        return [], []

    def listing(paths: Sequence[str]) -> str:
        rest = len(paths) - shown
        return ", ".join(paths[:shown]) + (f" and {rest} more" if rest > 0 else "")

    notes = [f"No app reads these changed files: {listing(uncovered)} (not part of any app)."]
    manifests = [p for p in uncovered if p.endswith((".yaml", ".yml", ".json"))]
    if not manifests:
        return notes, []
    return notes, [
        Finding(
            Severity.WARNING,
            "coverage",
            f"not part of any app: {listing(manifests)}. No target reads these "
            "files, so they are neither reviewed nor deployed; add them to an "
            "app in .gitops-bot.yaml if they should be.",
            file=manifests[0],
        )
    ]


def affected_targets(
    targets: Sequence[Target],
    inputs: Mapping[Target, frozenset[str]],
    changed_files: Collection[str],
) -> list[Target]:
    """Targets with at least one changed (added, modified or deleted) input, in input order."""

    def of(t: Target) -> Collection[str]:
        # a target nobody computed inputs for still counts by its own folder (fail closed)
        return inputs.get(t) or {dir_prefix(t.path), *t.values}

    return [t for t in targets if any(is_input(f, of(t)) for f in changed_files)]
