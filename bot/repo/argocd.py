"""PURE: Argo CD Applications (and the Applications ApplicationSets generate) -> targets.

One target per Application source that lives in this repository at the reviewed revision:
its `path` rendered as Argo CD would (Helm chart, kustomization or plain directory, by
explicit source type or by the files there) with the source's helm / kustomize /
directory settings. Sources elsewhere (another repository, a chart repository, another
revision, a plugin) become `remote` targets: listed as "not rendered", never skipped.

The environment is the destination (`<cluster>/<namespace>`, the in-cluster server named
`in-cluster`), unless the Application came out of the render of another target (app of
apps) whose environment is named: then it is that one.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.model import Target
from bot.repo import appset, options
from bot.repo.gitops_objects import Found
from bot.repo.kustomize_refs import KUSTOMIZATION_FILES, join
from bot.repo.options import mapping
from bot.repo.repourl import ThisRepo

IN_CLUSTER = "https://kubernetes.default.svc"
DEFAULT_ENVIRONMENT = "default"
_HELM_KEYS = (
    "valueFiles",
    "values",
    "valuesObject",
    "parameters",
    "fileParameters",
    "releaseName",
    "namespace",
    "skipCrds",
    "ignoreMissingValueFiles",
)
_KUSTOMIZE_KEYS = (
    "namePrefix",
    "nameSuffix",
    "namespace",
    "images",
    "commonLabels",
    "commonAnnotations",
    "patches",
    "components",
    "replicas",
    "forceCommonLabels",
    "forceCommonAnnotations",
    "labelWithoutSelector",
    "labelIncludeTemplates",
)


@dataclass
class Result:
    """Targets found, and problems worth a note (each names the object and file)."""

    targets: list[Target] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def environment(spec: Mapping[str, Any], parent: Target | None) -> tuple[str, str]:
    """(environment, how it was decided): the parent's (app of apps) when the parent's was
    named, not itself a destination; else `<cluster>/<namespace>` of the destination."""
    if (
        parent is not None
        and parent.environment != DEFAULT_ENVIRONMENT
        and options.of(parent).get("env_from") != "destination"
    ):
        return parent.environment, "parent"
    dest = mapping(spec.get("destination"))
    server = str(dest.get("server") or "").rstrip("/")
    cluster = str(dest.get("name") or "") or (
        "in-cluster" if server in ("", IN_CLUSTER) else server
    )
    namespace = str(dest.get("namespace") or "")
    return (f"{cluster}/{namespace}" if namespace else cluster), "destination"


def _sources(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if isinstance(spec.get("sources"), list) and spec["sources"]:
        return [s for s in spec["sources"] if isinstance(s, Mapping)]
    return [spec["source"]] if isinstance(spec.get("source"), Mapping) else []


def _detect(path: str, files: Collection[str]) -> str:
    prefix = "" if path == "." else path + "/"
    if any(prefix + name in files for name in KUSTOMIZATION_FILES):
        return "kustomize"
    return "helm" if prefix + "Chart.yaml" in files else "plain"


class Reader:
    """Turns Applications into targets for one repository revision."""

    def __init__(self, files: Collection[str], this: ThisRepo) -> None:
        self.files, self.this = files, this
        self.dirs = {posixpath.dirname(f) for f in files} | {"."}
        more = set()
        for d in self.dirs:
            while d:
                more.add(d)
                d = posixpath.dirname(d)
        self.dirs |= more

    def remote(
        self, found: Found, name: str, env: str, reason: str, url: str, path: str = ""
    ) -> Target:
        return Target(
            app=name,
            environment=env,
            renderer="remote",
            path=found.file,
            origin=_origin(found),
            options=options.encode(
                {
                    "remote": {"url": url, "reason": reason, "path": path},
                    "key": _key(found, name),
                    "parent": found.parent.path if found.parent else "",
                }
            ),
        )

    def application(
        self, found: Found, body: Mapping[str, Any] | None = None, result: Result | None = None
    ) -> Result:
        """The targets of one Application (`body` overrides `found.body`, for generated ones)."""
        body = body or found.body
        result = result if result is not None else Result()
        meta = mapping(body.get("metadata"))
        spec = mapping(body.get("spec"))
        name = str(meta.get("name") or "")
        if not name:
            result.problems.append(
                f"{found.where}: an Application without a name is ignored by Argo CD"
            )
            return result
        env, env_from = environment(spec, found.parent)
        sources = _sources(spec)
        refs = {str(s["ref"]): s for s in sources if s.get("ref")}
        rendered = [s for s in sources if s.get("path") or s.get("chart") or not s.get("ref")]
        for i, source in enumerate(rendered):
            app = name if len(rendered) == 1 else f"{name}-{i + 1}"
            target = self.source(
                found, app, name, meta, spec, (env, env_from), source, refs, result
            )
            if target is not None:
                result.targets.append(target)
        if not rendered:
            result.problems.append(f"{found.where}: Application {name} has no source")
        return result

    def source(
        self,
        found: Found,
        app: str,
        name: str,
        meta: Mapping[str, Any],
        spec: Mapping[str, Any],
        where: tuple[str, str],
        source: Mapping[str, Any],
        refs: Mapping[str, Mapping[str, Any]],
        result: Result,
    ) -> Target | None:
        env, env_from = where
        url, revision = str(source.get("repoURL") or ""), str(source.get("targetRevision") or "")
        path = str(source.get("path") or "").strip("/") or "."
        if source.get("chart"):
            return self.remote(
                found,
                app,
                env,
                f"chart {source['chart']} "
                f"{source.get('targetRevision') or ''} from a chart repository".replace("  ", " "),
                url,
            )
        if not self.this.is_this(url):
            return self.remote(found, app, env, "source in another repository", url, path)
        if not self.this.follows(revision):
            return self.remote(
                found,
                app,
                env,
                f"revision {revision} of this repository, not the reviewed branch",
                url,
                path,
            )
        if source.get("plugin"):
            return self.remote(found, app, env, "a config management plugin renders it", url, path)
        path = join(".", path) or ""
        if path not in self.dirs:
            result.problems.append(
                f"{found.where}: Application {name}: path {path!r} is not a "
                "folder of this repository (Argo CD cannot render it)"
            )
            return None
        renderer = (
            "helm"
            if source.get("helm")
            else "kustomize"
            if source.get("kustomize")
            else "plain"
            if source.get("directory")
            else _detect(path, self.files)
        )
        dest = mapping(spec.get("destination"))
        namespace = str(dest.get("namespace") or "") or None
        opts: dict[str, Any] = {
            "argocd": {"application": name, "namespace": str(meta.get("namespace") or "")},
            "parent": found.parent.path if found.parent else "",
            "inputs": [] if found.parent else [found.file],
            "env_from": env_from,
            "key": _key(found, app),
        }
        values: tuple[str, ...] = ()
        release = None
        if renderer == "helm":
            helm = mapping(source.get("helm"))
            files, missing = self.value_files(path, helm, refs)
            if missing:
                return self.remote(found, app, env, missing, url, path)
            values = tuple(files)
            release = str(helm.get("releaseName") or "") or name
            namespace = str(helm.get("namespace") or "") or namespace
            values_text = helm.get("values") if isinstance(helm.get("values"), str) else None
            obj = (
                helm.get("valuesObject")
                if isinstance(helm.get("valuesObject"), Mapping)
                else helm.get("values")
                if isinstance(helm.get("values"), Mapping)
                else None
            )
            settings = {
                "values": values_text,
                "values_object": obj,
                "parameters": [
                    dict(p) for p in helm.get("parameters") or [] if isinstance(p, Mapping)
                ],
                "skip_crds": bool(helm.get("skipCrds")),
            }
            opts["helm"] = {k: v for k, v in settings.items() if v}
            if helm.get("fileParameters"):
                return self.remote(
                    found, app, env, "helm fileParameters are not supported", url, path
                )
        elif renderer == "kustomize":
            kust = mapping(source.get("kustomize"))
            opts["kustomize"] = {k: kust[k] for k in _KUSTOMIZE_KEYS if kust.get(k)}
            opts["kustomize_style"] = "argocd"
        else:
            directory = mapping(source.get("directory"))
            opts["directory"] = {
                "recurse": bool(directory.get("recurse")),
                "include": str(directory.get("include") or ""),
                "exclude": str(directory.get("exclude") or ""),
            }
        return Target(
            app=app,
            environment=env,
            renderer=renderer,
            path=path,
            values=values,
            release=release,
            namespace=namespace,
            origin=_origin(found),
            options=options.encode(opts),
        )

    def value_files(
        self, path: str, helm: Mapping[str, Any], refs: Mapping[str, Mapping[str, Any]]
    ) -> tuple[list[str], str]:
        """Repository paths of the helm valueFiles, or why they cannot be read."""
        out = []
        for given in helm.get("valueFiles") or []:
            given = str(given)
            if given.startswith("$"):
                ref, _, rest = given[1:].partition("/")
                source = refs.get(ref)
                if source is None:
                    return [], f"values file {given}: no source with ref {ref}"
                if not self.this.at_review(
                    str(source.get("repoURL") or ""), str(source.get("targetRevision") or "")
                ):
                    return [], f"values file {given} is in {source.get('repoURL')}"
                resolved = join(".", rest)
            elif "://" in given:
                return [], f"values file {given} is a URL"
            else:
                resolved = join(path, given)
            if resolved is None:
                return [], f"values file {given} is outside the repository"
            if resolved not in self.files and helm.get("ignoreMissingValueFiles"):
                continue
            out.append(resolved)
        return out, ""

    def application_set(self, found: Found, ctx: appset.Context) -> Result:
        """The targets of the Applications an ApplicationSet generates."""
        result = Result()
        try:
            apps = appset.expand(found.body, ctx)
        except appset.Unresolvable as exc:
            result.targets.append(
                self.remote(
                    found,
                    found.name or "applicationset",
                    "all",
                    f"ApplicationSet {found.name}: {exc}",
                    "",
                )
            )
            return result
        for body in apps:
            self.application(found, body, result)
        return result


def _key(found: Found, name: str) -> str:
    """What identifies the target across revisions: the object, its file, the source."""
    return f"argocd:{found.kind}:{found.namespace}/{name}@{found.file}"


def _origin(found: Found) -> str:
    where = found.where
    via = f" (rendered by {found.parent.id})" if found.parent is not None else ""
    return f"Argo CD {found.kind} {found.name} ({where}){via}"


def read_all(
    found: list[Found], files: Collection[str], read: Callable[[str], bytes | None], this: ThisRepo
) -> Result:
    """Targets of every Application and ApplicationSet in `found`."""
    reader = Reader(files, this)
    ctx = appset.Context(files, read, lambda url, rev: this.at_review(url, rev))
    out = Result()
    for item in found:
        if item.group != "argoproj.io":
            continue
        part = (
            reader.application(item)
            if item.kind == "Application"
            else reader.application_set(item, ctx)
            if item.kind == "ApplicationSet"
            else Result()
        )
        out.targets += part.targets
        out.problems += part.problems
    return out
