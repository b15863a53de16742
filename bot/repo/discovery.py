"""PURE: find the apps of a repository that has no `.gitops-bot.yaml`."""
from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Collection, Iterable

from bot.repo.kustomize_refs import (
    KUSTOMIZATION_FILES,
    Read,
    RepoIndex,
    dir_prefix,
    direct_refs,
    load_kustomization,
)
from bot.repo.repo_config import CONFIG_FILE, App, Environment, RepoConfig

PREFIX_BYTES = 4096  # enough to see apiVersion and kind of a manifest's first document
_DOC_SPLIT = re.compile(rb"^---[^\n]*$", re.MULTILINE)
_API_VERSION = re.compile(rb"^apiVersion:[ \t]*['\"]?[\w.-]", re.MULTILINE)
_KIND = re.compile(rb"^kind:[ \t]*['\"]?[A-Za-z]", re.MULTILINE)


def _visible(files: Iterable[str], policies_dir: str) -> list[str]:
    policies = policies_dir.rstrip("/") + "/"
    return sorted(f for f in files
                  if f != CONFIG_FILE and not f.startswith(policies)
                  and not any(part.startswith(".") for part in f.split("/")))


def looks_like_manifest(content: bytes | None) -> bool:
    """Whether the start of a YAML file holds a document with top-level apiVersion and kind."""
    if not content:
        return False
    return any(_API_VERSION.search(doc) and _KIND.search(doc)
               for doc in _DOC_SPLIT.split(content[:PREFIX_BYTES]))


def _under(path: str, folders: Collection[str]) -> bool:
    """Whether `path` is one of `folders` (a set) or lies below one of them."""
    if "." in folders:
        return True
    while path:
        if path in folders:
            return True
        path = posixpath.dirname(path)
    return False


def _covered(path: str, inputs: Collection[str]) -> bool:
    """Whether `path` equals an input file or lies under an input `dir/` (inputs: a set)."""
    if path in inputs or "" in inputs:
        return True
    parent = posixpath.dirname(path.rstrip("/"))
    while parent:
        if parent + "/" in inputs:
            return True
        parent = posixpath.dirname(parent)
    return False


def app_name(path: str, taken: Collection[str]) -> str:
    """A unique app name from a folder path: `apps/web` -> `apps-web`."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", path.replace("/", "-")).strip("-._")[:63] or "root"
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name, n = base[:63 - len(suffix)] + suffix, n + 1
    return name


def _kustomize_apps(index: RepoIndex, read: Read,
                    chart_dirs: Collection[str]) -> tuple[list[str], set[str], set[str]]:
    """(app dirs, every kustomization dir outside charts, every path they read)."""
    kdirs = {d for d in (posixpath.dirname(f) or "." for f in index.files
                         if posixpath.basename(f) in KUSTOMIZATION_FILES)
             if not _under(d, chart_dirs)}
    referenced: set[str] = set()
    inputs: set[str] = set()
    apps: list[str] = []
    for kdir in kdirs:  # together these direct references make up every walk's inputs
        files, dirs = direct_refs(kdir, index, read)
        referenced |= dirs
        inputs |= files | {dir_prefix(kdir)} | {dir_prefix(d) for d in dirs}
    for kdir in sorted(kdirs):
        kfile = index.kustomization_file(kdir)
        kind = load_kustomization(kfile, read).get("kind") if kfile else None
        # bases and components are inputs of the apps that use them, never apps themselves
        if kdir not in referenced and kind != "Component":
            apps.append(kdir)
    return apps, kdirs, inputs


def discover_config(files: Collection[str], read: Read,
                    policies_dir: str = "policies") -> RepoConfig:
    """A RepoConfig with one environment `default` and the apps found in `files`.

    Apps: kustomizations no other kustomization references; charts not inside another chart;
    folders holding plain manifests (their own files, not subfolders) outside both.
    """
    visible = _visible(files, policies_dir)
    index = RepoIndex(visible)
    charts = {posixpath.dirname(f) or "." for f in visible if posixpath.basename(f) == "Chart.yaml"}
    # each kustomization is read by every walk that reaches it: read it once
    kustomize_apps, kdirs, kinputs = _kustomize_apps(index, functools.cache(read), charts)
    # a chart inside another chart is a vendored subchart (charts/), rendered by its parent
    helm_apps = [c for c in sorted(charts) if not _covered(c + "/", kinputs)
                 and not (c != "." and _under(posixpath.dirname(c) or ".", charts))]
    found: dict[str, str] = {d: "kustomize" for d in kustomize_apps}
    found.update({d: "helm" for d in helm_apps})
    plain: set[str] = set()
    for f in visible:
        folder = posixpath.dirname(f) or "."
        if (folder in plain or not f.endswith((".yaml", ".yml"))
                or _under(folder, kdirs) or _under(folder, charts) or _covered(f, kinputs)):
            continue
        if looks_like_manifest(read(f)):
            plain.add(folder)
    found.update({d: "plain" for d in plain})
    apps: list[App] = []
    for path in sorted(found):
        name = app_name(path, {a.name for a in apps})
        apps.append(App(name=name, path=path, renderer=found[path]))
    return RepoConfig(environments=(Environment("default"),), apps=tuple(apps),
                      policies_dir=policies_dir, file=CONFIG_FILE, discovered=True)
