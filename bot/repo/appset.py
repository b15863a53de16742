"""PURE: an Argo CD ApplicationSet -> the Applications its generators make, as Argo CD's
ApplicationSet controller would, for the generators that need only the repository:
`list`, `git` (directories and files of this repository) and `matrix` / `merge` of them,
with Go templates (`goTemplate: true`) or fasttemplate `{{path}}` placeholders.

Generators that need a cluster, a forge API or a plugin (clusters, pullRequest,
scmProvider, clusterDecisionResource, plugin) and `templatePatch` raise Unresolvable: the
caller lists the ApplicationSet as not rendered, with the reason.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from bot.repo import gotemplate
from bot.repo.appset_params import (
    fill,
    flatten,
    go_path_match,
    merge_override,
    pathspec_match,
    selected,
)
from bot.repo.gofuncs import go_str, normalize
from bot.repo.options import mapping
from bot.repo.safeyaml import load_one

Read = Callable[[str], bytes | None]
MAX_PARAMS = 2000
REMOTE_GENERATORS = {
    "clusters": "the cluster generator needs Argo CD's cluster list",
    "clusterDecisionResource": "the clusterDecisionResource generator reads the cluster",
    "pullRequest": "the pullRequest generator needs the forge's API",
    "scmProvider": "the scmProvider generator needs the forge's API",
    "plugin": "the plugin generator runs a plugin",
}


class Unresolvable(Exception):
    """The ApplicationSet cannot be expanded offline; the message says why."""


class Context:
    """What generators may read: this repository's files and the test for "this repository"."""

    def __init__(
        self, files: Collection[str], read: Read, is_this_repo: Callable[[str, str], bool]
    ) -> None:
        self.files, self.read, self.is_this_repo = files, read, is_this_repo
        dirs: set[str] = set()
        for f in files:
            parent = posixpath.dirname(f)
            while parent and parent not in dirs:
                dirs.add(parent)
                parent = posixpath.dirname(parent)
        # Argo CD's repo server lists directories without hidden ones (and what is below)
        self.dirs = sorted(d for d in dirs if not any(p.startswith(".") for p in d.split("/")))


def _replace(text: str, params: Mapping[str, Any], go: bool, options: list[str]) -> str:
    if go:
        try:
            return gotemplate.render(text, params, missing_error="missingkey=error" in options)
        except gotemplate.TemplateError as exc:
            raise Unresolvable(f"template {text!r}: {exc}") from None

    def tag(m: re.Match[str]) -> str:
        value = params.get(m.group(1).strip())
        return value if isinstance(value, str) and m.group(1).strip() else m.group(0)

    return re.sub(r"\{\{(.*?)\}\}", tag, text)


def render_tree(value: Any, params: Mapping[str, Any], go: bool, options: list[str]) -> Any:
    """Every string (and map key) of `value` with the parameters filled in."""
    if isinstance(value, str):
        return _replace(value, params, go, options)
    if isinstance(value, Mapping):
        return {
            _replace(str(k), params, go, options): render_tree(v, params, go, options)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [render_tree(v, params, go, options) for v in value]
    return value


class Expander:
    """Expands one ApplicationSet (its spec) in a repository context."""

    def __init__(self, spec: Mapping[str, Any], ctx: Context) -> None:
        self.spec, self.ctx = spec, ctx
        self.go = bool(spec.get("goTemplate"))
        self.options = [str(o) for o in spec.get("goTemplateOptions") or []]

    def generate(
        self, gen: Mapping[str, Any], outer: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Parameter sets of one generator (interpolated with `outer` inside a matrix)."""
        if not isinstance(gen, Mapping):
            raise Unresolvable("a generator is not a mapping")
        if outer:
            gen = {
                k: (v if k == "selector" else render_tree(v, outer, self.go, self.options))
                for k, v in gen.items()
            }
        kinds = [k for k in gen if k not in ("selector",) and gen[k] is not None]
        for kind in kinds:
            if kind in REMOTE_GENERATORS:
                raise Unresolvable(REMOTE_GENERATORS[kind])
        if len(kinds) != 1:
            raise Unresolvable(f"a generator must name exactly one kind, found {kinds or 'none'}")
        kind, body = kinds[0], gen[kinds[0]]
        if kind == "list":
            params = self.list_params(body)
        elif kind == "git":
            params = self.git_params(body)
        elif kind == "matrix":
            params = self.matrix_params(body)
        elif kind == "merge":
            params = self.merge_params(body)
        else:
            raise Unresolvable(f"unknown generator {kind!r}")
        if len(params) > MAX_PARAMS:
            raise Unresolvable(f"more than {MAX_PARAMS} parameter sets")
        return [p for p in params if selected(p, gen.get("selector"))]

    def list_params(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for element in body.get("elements") or []:
            if not isinstance(element, Mapping):
                raise Unresolvable("a list element is not a mapping")
            if self.go:
                out.append(dict(element))
                continue
            params: dict[str, Any] = {}
            for key, value in element.items():
                if key == "values" and isinstance(value, Mapping):
                    params.update({f"values.{k}": go_str(v) for k, v in value.items()})
                elif isinstance(value, str):
                    params[key] = value
                else:
                    raise Unresolvable(f"list element {key!r} is not a string (fasttemplate)")
            out.append(params)
        if body.get("elementsYaml"):
            extra = load_one(str(body["elementsYaml"]).encode())
            if not isinstance(extra, list):
                raise Unresolvable("elementsYaml is not a YAML list")
            out += [dict(e) for e in extra if isinstance(e, Mapping)]
        return out

    def _path_params(self, path: str, filename: str | None, prefix: str) -> dict[str, Any]:
        base = posixpath.basename(path)
        if self.go:
            info: dict[str, Any] = {
                "path": path,
                "basename": base,
                "basenameNormalized": normalize(base),
                "segments": path.split("/"),
            }
            if filename is not None:
                info.update(filename=filename, filenameNormalized=normalize(filename))
            return {prefix: {"path": info}} if prefix else {"path": info}
        name = f"{prefix}.path" if prefix else "path"
        flat = {name: path, f"{name}.basename": base, f"{name}.basenameNormalized": normalize(base)}
        if filename is not None:
            flat.update(
                {f"{name}.filename": filename, f"{name}.filenameNormalized": normalize(filename)}
            )
        flat.update({f"{name}[{i}]": seg for i, seg in enumerate(path.split("/")) if seg})
        return flat

    def _with_values(self, params: dict[str, Any], values: Mapping[str, Any] | None) -> None:
        for key, value in (values or {}).items():
            text = _replace(str(value), params, self.go, self.options)
            if self.go:
                params.setdefault("values", {})
                params["values"][key] = text
            else:
                params[f"values.{key}"] = text

    def git_params(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        url, revision = str(body.get("repoURL") or ""), str(body.get("revision") or "")
        if not self.ctx.is_this_repo(url, revision):
            raise Unresolvable(
                f"the git generator reads {url} at {revision or 'HEAD'}, "
                "not the reviewed revision of this repository"
            )
        prefix = str(body.get("pathParamPrefix") or "")
        out: list[dict[str, Any]] = []
        if body.get("directories"):
            items = [d for d in body["directories"] if isinstance(d, Mapping)]
            for path in self.ctx.dirs:
                matched = [d for d in items if go_path_match(str(d.get("path") or ""), path)]
                if any(not d.get("exclude") for d in matched) and not any(
                    d.get("exclude") for d in matched
                ):
                    params = self._path_params(path, None, prefix)
                    self._with_values(params, body.get("values"))
                    out.append(params)
            return out
        if not body.get("files"):
            raise Unresolvable("the git generator names no directories and no files")
        specs = [f for f in body["files"] if isinstance(f, Mapping)]
        chosen = sorted(
            f
            for f in self.ctx.files
            if any(
                pathspec_match(str(s.get("path") or ""), f) for s in specs if not s.get("exclude")
            )
            and not any(
                pathspec_match(str(s.get("path") or ""), f) for s in specs if s.get("exclude")
            )
        )
        for file in chosen:
            content = self.ctx.read(file)
            data = load_one(content) if content is not None else None
            objects = data if isinstance(data, list) else [data]
            if not all(isinstance(o, Mapping) for o in objects):
                raise Unresolvable(f"{file} is not a YAML/JSON object or list of objects")
            for obj in objects:
                params = dict(mapping(obj)) if self.go else flatten(obj)
                params.update(
                    self._path_params(posixpath.dirname(file), posixpath.basename(file), prefix)
                )
                self._with_values(params, body.get("values"))
                out.append(params)
        return out

    def matrix_params(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        gens = body.get("generators") or []
        if len(gens) != 2:
            raise Unresolvable(f"a matrix needs exactly two generators, found {len(gens)}")
        out: list[dict[str, Any]] = []
        for a in self.generate(gens[0]):
            for b in self.generate(gens[1], a):
                if self.go:
                    out.append(merge_override(merge_override({}, b), a))
                    continue
                merged = {k: go_str(v) for k, v in a.items()}
                for k, v in b.items():
                    if k in merged and merged[k] != go_str(v):
                        raise Unresolvable(f"matrix: duplicate key {k} with different values")
                    merged[k] = go_str(v)
                out.append(merged)
        return out

    def merge_params(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        gens, keys = body.get("generators") or [], [str(k) for k in body.get("mergeKeys") or []]
        if len(gens) < 2 or not keys:
            raise Unresolvable("a merge needs two or more generators and mergeKeys")

        def keyed(sets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for p in sets:
                k = json.dumps({key: p.get(key) for key in sorted(set(keys))}, sort_keys=True)
                if k in out:
                    raise Unresolvable(f"merge: parameter sets are not unique by {keys}")
                out[k] = p
            return out

        base = keyed(self.generate(gens[0]))
        for gen in gens[1:]:
            for k, over in keyed(self.generate(gen)).items():
                if k in base:
                    base[k] = merge_override(base[k], over) if self.go else {**base[k], **over}
        return list(base.values())


def expand(appset: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The Applications an ApplicationSet generates (Unresolvable when it cannot be
    expanded offline, or Argo CD itself would refuse it)."""
    spec = appset.get("spec") if isinstance(appset.get("spec"), Mapping) else None
    if spec is None:
        raise Unresolvable("no spec")
    if spec.get("templatePatch"):
        raise Unresolvable("templatePatch is not evaluated by the bot")
    expander = Expander(spec, ctx)
    template = mapping(spec.get("template"))
    meta = mapping(appset.get("metadata"))
    apps: list[dict[str, Any]] = []
    for gen in spec.get("generators") or []:
        kind = next((k for k in gen if k != "selector"), "") if isinstance(gen, Mapping) else ""
        own = gen.get(kind, {}).get("template") if isinstance(gen.get(kind), Mapping) else None
        merged = fill(dict(own), template) if isinstance(own, Mapping) else template
        for params in expander.generate(gen):
            rendered = (
                render_tree(merged, params, expander.go, expander.options)
                if params
                else copy.deepcopy(merged)
            )
            app_meta = dict(rendered.get("metadata") or {})
            app_meta["namespace"] = meta.get("namespace") or app_meta.get("namespace")
            apps.append(
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Application",
                    "metadata": app_meta,
                    "spec": rendered.get("spec") or {},
                }
            )
    names = [str((a["metadata"] or {}).get("name")) for a in apps]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise Unresolvable(f"generates several Applications named {', '.join(dup)}")
    return apps
