"""PURE: where a Flux Kustomization's or HelmRelease's source is, in this repository terms.

A `GitRepository` of this repository following the reviewed branch (or the bootstrap
`flux-system` one, whose spec `flux bootstrap` writes outside the repository) maps its paths
onto the repository; an `ExternalArtifact` maps them through the copy rules of the
`ArtifactGenerator` that builds it. Anything else is not this repository: the reason and
URL are returned instead. Objects are looked up in the asker's cluster first (every
cluster folder has its own `flux-system` objects).
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from bot.repo.gitops_objects import FLUX_EXT, Found
from bot.repo.kustomize_refs import join
from bot.repo.repourl import ThisRepo

BOOTSTRAP = "flux-system"
DEFAULT_ENVIRONMENT = "default"
Resolved = tuple[Callable[[str], str | None] | None, str, str]  # (to repo path, why not, url)


def env_of(found: Found, roots: Mapping[str, str]) -> tuple[str, str]:
    """(environment, how): the parent target's, else the bootstrap cluster folder's."""
    if found.parent is not None:
        return found.parent.environment, "parent"
    parent = posixpath.dirname(found.file)
    while True:
        if (parent or ".") in roots:
            return roots[parent or "."], "cluster-folder"
        if not parent:
            return DEFAULT_ENVIRONMENT, ""
        parent = posixpath.dirname(parent)


def sub_map(spec: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`spec[key]` when it is a mapping, else {}."""
    value = spec.get(key)
    return value if isinstance(value, Mapping) else {}


class Sources:
    """Flux sources, generators and ConfigMaps of one revision, by cluster."""

    def __init__(
        self,
        found: Iterable[Found],
        files: Collection[str],
        this: ThisRepo,
        roots: Mapping[str, str],
    ) -> None:
        self.files, self.this, self.roots = files, this, roots
        self.dirs = {"."}
        for f in files:
            d = posixpath.dirname(f)
            while d and d not in self.dirs:
                self.dirs.add(d)
                d = posixpath.dirname(d)
        # The same object name exists once per cluster: look in the asker's cluster first.
        self.by_key: dict[tuple[str, str, str, str], Found] = {}
        for item in found:
            env = env_of(item, roots)[0]
            self.by_key.setdefault((env, item.kind, item.namespace, item.name), item)
            self.by_key.setdefault(("", item.kind, item.namespace, item.name), item)
        self.env = ""

    def find(self, kind: str, namespace: str, name: str) -> Found | None:
        return self.by_key.get((self.env, kind, namespace, name)) or self.by_key.get(
            ("", kind, namespace, name)
        )

    def source(self, kind: str, namespace: str, name: str) -> Resolved:
        """(artifact path -> repo path, reason it is not this repository, URL)."""
        if kind == "GitRepository":
            repo = self.find("GitRepository", namespace, name)
            if repo is None and name == BOOTSTRAP:
                return (lambda p: join(".", p)), "", ""
            if repo is None:
                return None, f"GitRepository {namespace}/{name} is not in the repository", ""
            url, ref = str(repo.spec.get("url") or ""), sub_map(repo.spec, "ref")
            if not self.this.is_this(url):
                return None, f"GitRepository {name}: another repository", url
            other = {k: v for k, v in ref.items() if k != "branch"}
            if other or not self.this.follows(str(ref.get("branch") or "")):
                what = ", ".join(f"{k} {v}" for k, v in ref.items())
                return (
                    None,
                    (
                        f"GitRepository {name} of this repository at {what} (not the "
                        "reviewed branch)"
                    ),
                    url,
                )
            return (lambda p: join(".", p)), "", url
        if kind == "ExternalArtifact":
            return self.artifact(namespace, name)
        found = self.find(kind, namespace, name)
        url = str(found.spec.get("url") or "") if found is not None else ""
        return None, f"{kind} {namespace}/{name}" + (f" {url}" if url else ""), url

    def artifact(self, namespace: str, name: str) -> Resolved:
        gens = {
            id(f): f
            for (env, k, ns, _), f in self.by_key.items()
            if k == "ArtifactGenerator"
            and ns == namespace
            and f.group == FLUX_EXT
            and env in (self.env, "")
        }
        ordered = sorted(gens.values(), key=lambda f: env_of(f, self.roots)[0] != self.env)
        for gen in ordered:
            for art in gen.spec.get("artifacts") or []:
                if not isinstance(art, Mapping) or art.get("name") != name:
                    continue
                rules = []
                for src in gen.spec.get("sources") or []:
                    if not isinstance(src, Mapping):
                        continue
                    mapper, why, url = self.source(
                        str(src.get("kind") or ""),
                        str(src.get("namespace") or namespace),
                        str(src.get("name") or ""),
                    )
                    if mapper is None:
                        return None, f"ExternalArtifact {name}: {why}", url
                    for rule in art.get("copy") or []:
                        frm, to = str(rule.get("from") or ""), str(rule.get("to") or "")
                        alias = f"@{src.get('alias')}/"
                        if frm.startswith(alias) and to.startswith("@artifact/"):
                            rules.append(
                                (_glob_dir(frm[len(alias) :]), to[len("@artifact/") :].strip("/"))
                            )
                return functools.partial(_map_artifact, rules=list(rules)), "", ""
        return None, f"ExternalArtifact {namespace}/{name} has no ArtifactGenerator here", ""


def _glob_dir(pattern: str) -> str:
    """`apps/base/**` -> `apps/base` (the folder a copy rule takes everything from)."""
    parts = []
    for part in pattern.strip("/").split("/"):
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return "/".join(parts)


def _map_artifact(path: str, rules: list[tuple[str, str]]) -> str | None:
    rel = join(".", path)
    if rel is None:
        return None
    for source_dir, dest in rules:
        if rel == dest or dest in ("", ".") or rel.startswith(dest + "/"):
            rest = (
                rel[len(dest) :].strip("/")
                if dest not in ("", ".")
                else ("" if rel == "." else rel)
            )
            return join(source_dir or ".", rest or ".")
    return None
