"""PURE: the kustomization Argo CD or Flux actually builds for a target.

Argo CD runs `kustomize edit set nameprefix|namesuffix|image|replicas|namespace`, `kustomize
edit add label|annotation|component` and appends `patches` in the app's kustomization;
kustomize-controller writes targetNamespace, namePrefix/nameSuffix, patches, components and
images into it (or into one it generates listing the folder's manifests). Both edit the
file in place, so the result here is a new kustomization for the same folder.
"""

from __future__ import annotations

import copy
import posixpath
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from bot.repo.kustomize_refs import KUSTOMIZATION_FILES

# files source-controller leaves out of an artifact, and so out of a generated kustomization
_IGNORED = re.compile(
    r"(^|/)(\.[^/]*|appveyor\.yml|cloudbuild\.yaml|codeship-services\.yml|"
    r"codeship-steps\.yml)$"
)


def generated(folder: str, files: Collection[str]) -> dict[str, Any]:
    """Flux's kustomization for a folder without one: every YAML file below it, and each
    subfolder that has a kustomization as one entry (not descended into)."""
    prefix = "" if folder == "." else folder + "/"
    kdirs = {
        posixpath.dirname(f)
        for f in files
        if f.startswith(prefix) and posixpath.basename(f) in KUSTOMIZATION_FILES
    }
    resources: set[str] = set()
    for f in files:
        rel = f[len(prefix) :] if f.startswith(prefix) else None
        if rel is None or _IGNORED.search(rel) or not rel.endswith((".yaml", ".yml")):
            continue
        parent, covered = posixpath.dirname(f), None
        while parent and parent != folder.rstrip("/"):
            if parent in kdirs:
                covered = parent
            parent = posixpath.dirname(parent)
        resources.add("./" + (covered[len(prefix) :] if covered else rel))
    out: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if resources:
        out["resources"] = sorted(resources)
    else:
        out["namespace"] = "_placeholder"
    return out


def parse_image(spec: str) -> dict[str, str]:
    """`kustomize edit set image` arguments: `name=new:tag@digest`, `name:tag`, `name@d`
    (a `:` before the last `/` is a registry port, not a tag)."""
    spec = spec.strip()
    name, eq, rest = spec.partition("=")
    rest = rest if eq else spec
    rest, _, digest = rest.partition("@")
    tag = ""
    if rest.rfind(":") > rest.rfind("/"):
        rest, _, tag = rest.rpartition(":")
    if not rest or (eq and not name):
        raise ValueError(f"invalid image {spec!r}")
    image = {"name": name if eq else rest}
    if eq and rest:
        image["newName"] = rest
    if tag:
        image["newTag"] = tag
    if digest:
        image["digest"] = digest
    return image


def _merge_images(current: list[Any], given: Sequence[Mapping[str, Any]], style: str) -> list[Any]:
    out = [dict(i) for i in current if isinstance(i, Mapping)]
    for image in given:
        found = next((i for i in out if i.get("name") == image.get("name")), None)
        if found is None:
            out.append({k: v for k, v in image.items() if v})
            continue
        if image.get("newName"):
            found["newName"] = image["newName"]
        if style == "flux" and (image.get("newTag") or image.get("digest")):
            found.pop("newTag", None)
            found.pop("digest", None)
        for key in ("newTag", "digest"):
            if image.get(key):
                found[key] = image[key]
    return out


def _labels(kust: dict[str, Any], labels: Mapping[str, Any], opts: Mapping[str, Any]) -> None:
    if opts.get("labelWithoutSelector"):
        entry: dict[str, Any] = {
            "pairs": {str(k): str(v) for k, v in labels.items()},
            "includeSelectors": False,
        }
        if opts.get("labelIncludeTemplates"):
            entry["includeTemplates"] = True
        kust["labels"] = [*(kust.get("labels") or []), entry]
        return
    current = dict(kust.get("commonLabels") or {})
    clash = [k for k in labels if k in current and not opts.get("forceCommonLabels")]
    if clash:
        raise ValueError(
            f"label {clash[0]} already in kustomization (forceCommonLabels is not set)"
        )
    current.update({str(k): str(v) for k, v in labels.items()})
    kust["commonLabels"] = current


def edit(
    original: Mapping[str, Any] | None,
    fields: Mapping[str, Any],
    style: str,
    folder: str,
    files: Collection[str],
) -> dict[str, Any]:
    """The kustomization after Argo CD's or Flux's edits (`style` "argocd" | "flux");
    `original` None means Flux generates one for `folder`. ValueError names what is wrong."""
    kust = copy.deepcopy(dict(original)) if original is not None else generated(folder, files)
    if fields.get("namePrefix"):
        kust["namePrefix"] = str(fields["namePrefix"])
    if fields.get("nameSuffix"):
        kust["nameSuffix"] = str(fields["nameSuffix"])
    images = fields.get("images") or []
    if images:
        given = [parse_image(str(i)) if isinstance(i, str) else dict(i) for i in images]
        kust["images"] = _merge_images(list(kust.get("images") or []), given, style)
    for item in fields.get("replicas") or []:
        if isinstance(item, Mapping):
            entries = [
                r
                for r in kust.get("replicas") or []
                if isinstance(r, Mapping) and r.get("name") != item.get("name")
            ]
            kust["replicas"] = [
                *entries,
                {"name": item.get("name"), "count": int(item.get("count") or 0)},
            ]
    if fields.get("commonLabels"):
        _labels(kust, fields["commonLabels"], fields)
    if fields.get("commonAnnotations"):
        current = dict(kust.get("commonAnnotations") or {})
        current.update({str(k): str(v) for k, v in fields["commonAnnotations"].items()})
        kust["commonAnnotations"] = current
    if fields.get("namespace"):
        kust["namespace"] = str(fields["namespace"])
    patches = [dict(p) for p in fields.get("patches") or [] if isinstance(p, Mapping)]
    if patches:
        kust["patches"] = [*(kust.get("patches") or []), *patches]
    components = [str(c) for c in fields.get("components") or []]
    for component in components:
        if "://" in component or component.startswith(("/", "git@", "github.com")):
            raise ValueError(f"component path '{component}' must be local and relative")
    if components:
        kust["components"] = [*(kust.get("components") or []), *components]
    return kust
