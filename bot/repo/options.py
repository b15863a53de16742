"""The renderer settings an Argo CD / Flux object adds to a target, as canonical JSON in
`Target.options` (hashable, cacheable, the same text for the same settings).

Keys (all optional):
  argocd       {application, namespace}: the Application the target renders (live state)
  flux         {kind, name, namespace}: the Flux object the target renders (deploys)
  directory    {recurse, include, exclude}: Argo CD directory apps (plain renderer)
  kustomize    fields set in the kustomization the way Argo CD (`kustomize edit`) or Flux
               (kustomize-controller) set them: namePrefix, nameSuffix, namespace, images,
               commonLabels, commonAnnotations, labels, patches, components, replicas
  kustomize_style  "argocd" | "flux"  (how `kustomize` fields are merged)
  generate     true: a folder without kustomization.yaml gets one listing its manifests
               (Flux's generator)
  substitute   {vars: {...}, keep_unknown: bool}: Flux postBuild variables
  helm         {values: <YAML text>, values_object: {...}, parameters: [{name, value,
               forceString}], skip_crds, value_layering}: extra values after the values
               files, like Argo CD's `helm.values` / Flux's merged `values`
  remote       {url, reason, path}: why a `remote` target is not rendered
  inputs       extra repository files the target reads (ConfigMaps, defining files)
  parent       the path of the target whose render declared this one
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.model import Target


def encode(options: Mapping[str, Any]) -> str:
    """Canonical JSON of `options` without empty values ("" for none)."""
    kept = {k: v for k, v in options.items() if v not in (None, "", [], {}, False)}
    return json.dumps(kept, sort_keys=True, separators=(",", ":")) if kept else ""


def of(target: Target) -> dict[str, Any]:
    """The options of `target` as data ({} when it has none)."""
    if not target.options:
        return {}
    data = json.loads(target.options)
    return data if isinstance(data, dict) else {}


def inputs(target: Target) -> list[str]:
    """Extra repository files (or `dir/` prefixes) the target reads beyond its path."""
    return [str(p) for p in of(target).get("inputs") or []]


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a mapping, else an empty one (YAML from repositories is untyped)."""
    return value if isinstance(value, Mapping) else {}


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge key by key, anything else in `over` replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
