"""PURE: find the apps of a repository that has no `apps:` in `.gitops-bot.yaml`.

Kustomizations, charts and folders of plain manifests become apps; the folder layouts of
`bot.repo.layout` turn them into app x environment. What an app only uses (bases,
components, patch folders, vendored subcharts) is not an app.
"""

from __future__ import annotations

import dataclasses
import functools
import posixpath
import re
from collections.abc import Collection, Iterable

from bot.repo import layout
from bot.repo.discovery_plain import plain_apps
from bot.repo.kustomize_fields import renders_objects
from bot.repo.kustomize_refs import (
    KUSTOMIZATION_FILES,
    Read,
    RepoIndex,
    dir_prefix,
    direct_refs,
    load_kustomization,
)
from bot.repo.repo_config import (
    CONFIG_FILE,
    DEFAULT_ENVIRONMENT,
    App,
    AppEnvironment,
    Environment,
    RepoConfig,
)
from bot.repo.safeyaml import load_one
from bot.repo.sniff import PREFIX_BYTES, looks_like_manifest

__all__ = [
    "PREFIX_BYTES",
    "app_name",
    "discover_config",
    "looks_like_manifest",
    "with_discovered_apps",
]

# One discovered app: (folder it is named after, renderer, {environment: override}, release)
Found = tuple[str, str, dict[str, AppEnvironment], str | None]


def _visible(files: Iterable[str], policies_dir: str) -> list[str]:
    policies = policies_dir.rstrip("/") + "/"
    return sorted(
        f
        for f in files
        if f != CONFIG_FILE
        and not f.startswith(policies)
        and not any(part.startswith(".") for part in f.split("/"))
    )


def app_name(path: str, taken: Collection[str]) -> str:
    """A unique app name from a folder path: `apps/web` -> `apps-web`."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", path.replace("/", "-")).strip("-._")[:63] or "root"
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name, n = base[: 63 - len(suffix)] + suffix, n + 1
    return name


class _Kustomizations:
    """Every kustomization outside charts, what each names, and who names it."""

    def __init__(self, index: RepoIndex, read: Read, charts: Collection[str]) -> None:
        self.index = index
        self.dirs = sorted(
            d
            for d in (
                posixpath.dirname(f) or "."
                for f in index.files
                if posixpath.basename(f) in KUSTOMIZATION_FILES
            )
            if not layout.under(d, charts)
        )
        self.data = {
            d: load_kustomization(index.kustomization_file(d) or "", read) for d in self.dirs
        }
        self.refs: dict[str, set[str]] = {}
        self.referrers: dict[str, set[str]] = {}
        self.read_paths: set[str] = set()  # every file or `dir/` some kustomization names
        for kdir in self.dirs:
            files, dirs = direct_refs(kdir, index, read)
            self.refs[kdir] = dirs
            self.read_paths |= files | {dir_prefix(d) for d in dirs}
            for d in dirs:
                self.referrers.setdefault(d, set()).add(kdir)
        # discovery treats everything inside a kustomization folder as that folder's
        self.inputs = self.read_paths | {dir_prefix(d) for d in self.dirs}

    def reaches(self, start: str, goal: str) -> bool:
        """Whether `start` builds on folder `goal` or on something inside it."""
        todo, seen = [start], {start}
        while todo:
            for d in self.refs.get(todo.pop(), ()):
                if d == goal or d.startswith(goal + "/"):
                    return True
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return False

    def environment(self, kdir: str) -> tuple[str, str] | None:
        """(app folder, environment) when `kdir` is an environment of a layout."""
        found = layout.env_parent_layout(kdir)
        if found:
            return found
        base = layout.sibling_base(kdir, self.index.dirs)
        if base and self.reaches(kdir, base):
            return layout.parent(kdir), posixpath.basename(kdir)
        return None

    def is_app(self, kdir: str) -> bool:
        """Apps: kustomizations that render objects, are no part of another app (component,
        base, patches) and no developer setup; one that others use is an app too when it is
        an environment of a layout and no kustomization above it composes it."""
        data = self.data[kdir]
        if (
            data.get("kind") == "Component"
            or not renders_objects(data)
            or layout.is_part_folder(kdir)
            or layout.is_dev_tool(kdir)
        ):
            return False
        referrers = self.referrers.get(kdir)
        if not referrers:
            return True
        composed = any(r == "." or kdir.startswith(r + "/") for r in referrers)
        return not composed and self.environment(kdir) is not None


def _add(
    found: dict[tuple[str, str], Found],
    folder: str,
    renderer: str,
    env: str,
    override: AppEnvironment,
    release: str | None = None,
) -> None:
    key = (folder, renderer)
    entry = found.setdefault(key, (folder, renderer, {}, release))
    name, n = env, 2
    while name in entry[2]:
        name, n = f"{env}-{n}", n + 1
    entry[2][name] = AppEnvironment(name=name, path=override.path, values=override.values)


def _kustomize(kust: _Kustomizations, found: dict[tuple[str, str], Found]) -> None:
    for kdir in kust.dirs:
        if not kust.is_app(kdir):
            continue
        placed = kust.environment(kdir)
        folder, env = placed if placed else (kdir, DEFAULT_ENVIRONMENT)
        _add(found, folder, "kustomize", env, AppEnvironment(env, path=kdir))


def _subchart(chart: str, charts: Collection[str]) -> bool:
    folder = layout.parent(chart)
    while folder != ".":
        if posixpath.basename(folder) == "charts" and layout.parent(folder) in charts:
            return True
        folder = layout.parent(folder)
    return False


def _release(chart: str, read: Read) -> str | None:
    """The chart's folder name; for a chart at the root, the name in its Chart.yaml."""
    if chart != ".":
        return posixpath.basename(chart)
    data = load_one(read("Chart.yaml") or b"")
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _helm(
    charts: Collection[str],
    index: RepoIndex,
    read: Read,
    kust: _Kustomizations,
    found: dict[tuple[str, str], Found],
) -> None:
    for chart in sorted(charts):
        # a chart in another chart's charts/ folder is a vendored subchart, rendered by it
        if (
            layout.covered(chart + "/", kust.inputs)
            or layout.is_dev_tool(chart)
            or _subchart(chart, charts)
        ):
            continue
        placed = layout.env_parent_layout(chart)
        if placed:
            folder, env = placed
            _add(
                found,
                folder,
                "helm",
                env,
                AppEnvironment(env, path=chart),
                release=posixpath.basename(folder) if folder != "." else None,
            )
            continue
        release = _release(chart, read)
        _add(
            found,
            chart,
            "helm",
            DEFAULT_ENVIRONMENT,
            AppEnvironment(DEFAULT_ENVIRONMENT, path=chart),
            release,
        )
        for env, values in layout.values_environments(chart, index.files).items():
            _add(found, chart, "helm", env, AppEnvironment(env, path=chart, values=(values,)))


def discover_config(
    files: Collection[str], read: Read, policies_dir: str = "policies"
) -> RepoConfig:
    """A RepoConfig with the apps found in `files`, and the environments they name.

    An app found alone covers environment `default`; one found in a layout covers the
    environments the layout names (each with its own path or values files).
    """
    visible = _visible(files, policies_dir)
    index = RepoIndex(visible)
    charts = {posixpath.dirname(f) or "." for f in visible if posixpath.basename(f) == "Chart.yaml"}
    # each kustomization is read by every walk that reaches it: read it once
    kust = _Kustomizations(index, functools.cache(read), charts)
    found: dict[tuple[str, str], Found] = {}
    _kustomize(kust, found)
    _helm(charts, index, read, kust, found)
    for folder, env, path in plain_apps(
        visible, read, kust.dirs, charts, kust.inputs, kust.read_paths
    ):
        env = env or DEFAULT_ENVIRONMENT
        _add(found, folder, "plain", env, AppEnvironment(env, path=path))
    return _config(found.values(), policies_dir)


def _config(found: Iterable[Found], policies_dir: str) -> RepoConfig:
    apps: list[App] = []
    names: set[str] = set()
    for folder, renderer, envs, release in sorted(found, key=lambda f: (f[0], f[1])):
        name = app_name(folder, {a.name for a in apps})
        apps.append(
            App(
                name=name,
                path=folder if folder in {o.path for o in envs.values()} else None,
                renderer=renderer,
                release=release,
                environments=tuple(envs[e] for e in sorted(envs)),
            )
        )
        names |= set(envs)
    ordered = sorted(names - {DEFAULT_ENVIRONMENT})
    if DEFAULT_ENVIRONMENT in names or not ordered:
        ordered.insert(0, DEFAULT_ENVIRONMENT)
    return RepoConfig(
        environments=tuple(Environment(n) for n in ordered),
        apps=tuple(apps),
        policies_dir=policies_dir,
        file=CONFIG_FILE,
        discovered=True,
    )


def with_discovered_apps(config: RepoConfig, found: RepoConfig) -> RepoConfig:
    """`config` (environments and settings, no `apps:`) with the apps discovery `found`.

    An app found alone covers every configured environment; environments a layout names
    that the config lacks are added with default settings (for those apps only).
    """
    every = tuple(AppEnvironment(name) for name in config.environment_names)
    apps = tuple(
        App(name=a.name, path=a.path, renderer=a.renderer, release=a.release, environments=every)
        if _alone(a)
        else a
        for a in found.apps
    )
    known = set(config.environment_names)
    extra = tuple(
        Environment(e.name)
        for e in found.environments
        if e.name not in known and any(a.covers(e.name) and not _alone(a) for a in found.apps)
    )
    # replace(), not a new RepoConfig: every other setting (apps.from, findings, ...) stays
    return dataclasses.replace(
        config, environments=config.environments + extra, apps=apps, discovered=True
    )


def _alone(app: App) -> bool:
    envs = app.environments or ()
    return len(envs) == 1 and envs[0].name == DEFAULT_ENVIRONMENT and not envs[0].values
