"""PURE: Flux Kustomizations and HelmReleases -> targets.

A Kustomization whose source is this repository at the reviewed revision (its
`GitRepository`, the bootstrap `flux-system` one, or an `ExternalArtifact` an
`ArtifactGenerator` copies from it) becomes a kustomize target of `spec.path`, with the
fields kustomize-controller writes into the kustomization (patches, images, targetNamespace,
namePrefix/nameSuffix, components), `commonMetadata` and the `postBuild` variables
(`substitute`, and `substituteFrom` ConfigMaps found in the repository; Secrets are never
read). A HelmRelease whose chart is a folder of this repository becomes a helm target with
`spec.values` over in-repository `valuesFrom` ConfigMaps. Any other source (OCI, chart
repositories, buckets, other branches) becomes a `remote` target.

The environment is the cluster folder (`clusters/<name>`) of a bootstrap root, inherited
by everything its render declares.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from bot.model import Target
from bot.repo import options
from bot.repo.argocd import DEFAULT_ENVIRONMENT, Result
from bot.repo.flux_sources import BOOTSTRAP, Sources, env_of, sub_map
from bot.repo.gitops_objects import FLUX_HELM, FLUX_KS, Found
from bot.repo.kustomize_refs import KUSTOMIZATION_FILES, join
from bot.repo.options import deep_merge, mapping
from bot.repo.repourl import ThisRepo
from bot.repo.safeyaml import load_one

_KS_FIELDS = ("patches", "images", "namePrefix", "nameSuffix", "components")

Resolved = tuple[Callable[[str], str | None] | None, str, str]  # (to repo path, why not, url)


def bootstrap_roots(files: Collection[str]) -> dict[str, str]:
    """Folders `flux bootstrap` manages (`<folder>/flux-system/gotk-*.yaml`) -> environment."""
    roots = {}
    for f in files:
        parts = f.split("/")
        if len(parts) >= 2 and parts[-2] == BOOTSTRAP and parts[-1].startswith("gotk-"):
            folder = "/".join(parts[:-2]) or "."
            roots[folder] = posixpath.basename(folder) if folder != "." else DEFAULT_ENVIRONMENT
    return roots


def bootstrap_target(folder: str, env: str, files: Collection[str]) -> Target:
    """The `flux-system` Kustomization that bootstrap points at `folder` (its gotk-sync.yaml
    is often a placeholder in the repository)."""
    return Target(
        app=BOOTSTRAP,
        environment=env,
        renderer="kustomize",
        path=folder,
        origin=f"Flux bootstrap ({join(folder, BOOTSTRAP)})",
        options=options.encode(
            {
                "flux": {"kind": "Kustomization", "name": BOOTSTRAP, "namespace": BOOTSTRAP},
                "generate": _generate(folder, files),
                "env_from": "cluster-folder",
                "key": f"flux-bootstrap:{folder}",
            }
        ),
    )


def _generate(path: str, files: Collection[str]) -> bool:
    prefix = "" if path == "." else path + "/"
    return not any(prefix + name in files for name in KUSTOMIZATION_FILES)


class Reader(Sources):
    """Flux objects of one revision (sources, generators, ConfigMaps) -> targets."""

    def kustomization(self, found: Found, result: Result) -> None:
        spec, ns = found.spec, found.namespace or BOOTSTRAP
        env, env_from = env_of(found, self.roots)
        self.env = env
        ref = sub_map(spec, "sourceRef")
        mapper, why, url = self.source(
            str(ref.get("kind") or ""), str(ref.get("namespace") or ns), str(ref.get("name") or "")
        )
        raw_path = str(spec.get("path") or "./")
        if mapper is None:
            result.targets.append(self.remote(found, env, why, url, raw_path))
            return
        path = mapper(raw_path)
        if path is None or path not in self.dirs:
            result.problems.append(
                f"{found.where}: Flux Kustomization {ns}/{found.name}: path "
                f"{raw_path!r} is not a folder of this repository"
            )
            return
        kust = {k: spec[k] for k in _KS_FIELDS if spec.get(k)}
        if spec.get("targetNamespace"):
            kust["namespace"] = spec["targetNamespace"]
        post = sub_map(spec, "postBuild")
        vars_, keep, inputs = self.variables(found, post, ns, result)
        opts = {
            "flux": {"kind": "Kustomization", "name": found.name, "namespace": ns},
            "kustomize": kust,
            "kustomize_style": "flux",
            "generate": _generate(path, self.files),
            "common_metadata": dict(sub_map(spec, "commonMetadata")),
            "substitute": {"vars": vars_, "keep_unknown": keep} if post else None,
            "inputs": sorted(inputs | ({found.file} if found.parent is None else set())),
            "parent": found.parent.path if found.parent else "",
            "env_from": env_from,
            "key": _key(found),
        }
        result.targets.append(
            Target(
                app=found.name,
                environment=env,
                renderer="kustomize",
                path=path,
                namespace=str(spec.get("targetNamespace") or "") or None,
                origin=_origin(found),
                options=options.encode(opts),
            )
        )

    def variables(
        self, found: Found, post: Mapping[str, Any], ns: str, result: Result
    ) -> tuple[dict[str, str], bool, set[str]]:
        """postBuild variables: substituteFrom ConfigMaps in order, then `substitute`."""
        out: dict[str, str] = {}
        keep, inputs = False, set()
        for ref in post.get("substituteFrom") or []:
            if not isinstance(ref, Mapping):
                continue
            kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
            if kind == "Secret":
                keep = True
                result.problems.append(
                    f"{found.where}: Kustomization {found.name}: variables "
                    f"from Secret {name} are not read (they stay as "
                    "written)"
                )
                continue
            cm = self.find("ConfigMap", ns, name) or self.find("ConfigMap", "", name)
            if cm is None:
                if not ref.get("optional"):
                    keep = True
                    result.problems.append(
                        f"{found.where}: Kustomization {found.name}: "
                        f"ConfigMap {ns}/{name} is not in the repository"
                    )
                continue
            inputs.add(cm.file)
            data = mapping(cm.body.get("data"))
            out.update({str(k): str(v).replace("\n", "") for k, v in data.items()})
        out.update(
            {str(k): str(v).replace("\n", "") for k, v in (sub_map(post, "substitute")).items()}
        )
        return out, keep, inputs

    def helm_release(self, found: Found, result: Result) -> None:
        spec, ns = found.spec, found.namespace or "default"
        env, env_from = env_of(found, self.roots)
        self.env = env
        chart = sub_map(sub_map(spec, "chart"), "spec")
        ref = sub_map(chart, "sourceRef") if chart else sub_map(spec, "chartRef")
        kind = str(ref.get("kind") or "")
        mapper, why, url = self.source(
            kind, str(ref.get("namespace") or ns), str(ref.get("name") or "")
        )
        if kind == "HelmRepository":
            why = f"chart {chart.get('chart')} from HelmRepository {ref.get('name')}" + (
                f" {url}" if url else ""
            )
        if mapper is None or kind not in ("GitRepository", "ExternalArtifact", "Bucket"):
            result.targets.append(self.remote(found, env, why, url, str(chart.get("chart") or "")))
            return
        path = mapper(str(chart.get("chart") or ""))
        if path is None or f"{path}/Chart.yaml".removeprefix("./") not in self.files:
            result.problems.append(
                f"{found.where}: HelmRelease {ns}/{found.name}: chart "
                f"{chart.get('chart')!r} is not a chart folder here"
            )
            return
        values, inputs = self.values(found, ns, result)
        value_files = [mapper(str(v)) for v in chart.get("valuesFiles") or []]
        if spec.get("postRenderers"):
            result.problems.append(
                f"{found.where}: HelmRelease {found.name}: postRenderers are not applied by the bot"
            )
        target_ns = str(spec.get("targetNamespace") or "")
        release = str(spec.get("releaseName") or "") or (
            f"{target_ns}-{found.name}" if target_ns else found.name
        )
        opts = {
            "flux": {"kind": "HelmRelease", "name": found.name, "namespace": ns},
            "helm": {"values_object": values, "chart_values": [v for v in value_files if v]},
            "inputs": sorted(inputs | ({found.file} if found.parent is None else set())),
            "parent": found.parent.path if found.parent else "",
            "env_from": env_from,
            "key": _key(found),
        }
        result.targets.append(
            Target(
                app=found.name,
                environment=env,
                renderer="helm",
                path=path,
                release=release,
                namespace=target_ns or ns,
                origin=_origin(found),
                options=options.encode(opts),
            )
        )

    def values(self, found: Found, ns: str, result: Result) -> tuple[dict[str, Any], set[str]]:
        """valuesFrom ConfigMaps in order, then spec.values on top (deep merge)."""
        merged: dict[str, Any] = {}
        inputs: set[str] = set()
        for ref in found.spec.get("valuesFrom") or []:
            if not isinstance(ref, Mapping):
                continue
            kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
            key = str(ref.get("valuesKey") or "values.yaml")
            cm = self.find("ConfigMap", ns, name) if kind == "ConfigMap" else None
            if cm is None:
                if not ref.get("optional"):
                    result.problems.append(
                        f"{found.where}: HelmRelease {found.name}: values from {kind} {name} "
                        + (
                            "are not read (Secrets never are)"
                            if kind == "Secret"
                            else "are not in the repository"
                        )
                    )
                continue
            inputs.add(cm.file)
            data = mapping(cm.body.get("data"))
            text = data.get(key)
            if text is None:
                continue
            if ref.get("targetPath"):
                _set_path(merged, str(ref["targetPath"]), str(text))
            else:
                loaded = load_one(str(text).encode())
                if isinstance(loaded, Mapping):
                    merged = deep_merge(merged, loaded)
        inline = found.spec.get("values")
        if isinstance(inline, Mapping):
            merged = deep_merge(merged, inline)
        return merged, inputs

    def remote(self, found: Found, env: str, why: str, url: str, path: str) -> Target:
        return Target(
            app=found.name,
            environment=env if found.parent else "all",
            renderer="remote",
            path=found.file,
            origin=_origin(found),
            options=options.encode(
                {
                    "remote": {"url": url, "reason": why, "path": path},
                    "flux": {"kind": found.kind, "name": found.name, "namespace": found.namespace},
                    "key": _key(found),
                    "parent": found.parent.path if found.parent else "",
                }
            ),
        )


def _set_path(values: dict[str, Any], path: str, value: str) -> None:
    keys = path.split(".")
    here = values
    for key in keys[:-1]:
        here = here.setdefault(key, {}) if isinstance(here.get(key, {}), dict) else {}
    here[keys[-1]] = value


def _key(found: Found) -> str:
    return f"flux:{found.kind}:{found.namespace}/{found.name}@{found.file}"


def _origin(found: Found) -> str:
    via = f" (rendered by {found.parent.id})" if found.parent is not None else ""
    return f"Flux {found.kind} {found.namespace}/{found.name} ({found.where}){via}"


def read_all(
    found: list[Found], files: Collection[str], this: ThisRepo, everything: Iterable[Found] = ()
) -> Result:
    """Targets of the Kustomizations and HelmReleases in `found`; sources and ConfigMaps
    are looked up in `everything` (all objects known so far) and `found`."""
    reader = Reader([*found, *everything], files, this, bootstrap_roots(files))
    out = Result()
    for item in found:
        if item.group == FLUX_KS and item.kind == "Kustomization":
            reader.kustomization(item, out)
        elif item.group == FLUX_HELM and item.kind == "HelmRelease":
            reader.helm_release(item, out)
    return out
