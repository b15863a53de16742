"""PURE: what kustomize-controller does to the built objects: `postBuild` variable
substitution on each object's YAML (unless it is labelled or annotated
`kustomize.toolkit.fluxcd.io/substitute: disabled`), then `commonMetadata`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from bot.model import Finding, Manifest, Severity
from bot.render.envsubst import SubstitutionError
from bot.render.envsubst_eval import substitute
from bot.repo.options import mapping
from bot.repo.safeyaml import load_one

DISABLE = "kustomize.toolkit.fluxcd.io/substitute"
VAR_NAME = re.compile(r"^[_A-Za-z][_A-Za-z0-9]*$")


class _Dumper(yaml.SafeDumper):
    """Block YAML like kyaml writes it: key order kept, multi-line strings as `|`."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _disabled(body: Mapping[str, Any]) -> bool:
    meta = mapping(body.get("metadata"))
    for key in ("labels", "annotations"):
        values = mapping(meta.get(key))
        if values.get(DISABLE) == "disabled":
            return True
    return False


def _with_metadata(body: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(body)
    meta = dict(out.get("metadata") or {})
    for key in ("labels", "annotations"):
        if isinstance(common.get(key), Mapping) and common[key]:
            meta[key] = {
                **(meta.get(key) or {}),
                **{str(k): str(v) for k, v in common[key].items()},
            }
    out["metadata"] = meta
    return out


def post_build(
    manifests: Sequence[Manifest],
    substitution: Mapping[str, Any] | None,
    common: Mapping[str, Any] | None,
    max_bytes: int = 8 << 20,
) -> tuple[list[Manifest], list[Finding]]:
    """The objects after substitution (`{vars, keep_unknown}`) and common metadata."""
    findings: list[Finding] = []
    variables = {str(k): str(v) for k, v in ((substitution or {}).get("vars") or {}).items()}
    keep = bool((substitution or {}).get("keep_unknown"))
    bad = sorted(k for k in variables if not VAR_NAME.match(k))
    if bad:
        return [], [
            Finding(
                Severity.ERROR,
                "render",
                f"postBuild: '{bad[0]}' var name is invalid, must match '{VAR_NAME.pattern}'",
            )
        ]
    out: list[Manifest] = []
    for m in manifests:
        body: Any = m.body
        if substitution is not None and (variables or keep) and not _disabled(body):
            text = yaml.dump(
                dict(body),
                Dumper=_Dumper,
                sort_keys=False,
                width=1 << 20,
                allow_unicode=True,
                default_flow_style=False,
            )
            try:
                text = substitute(text, variables, keep_unknown=keep)
            except SubstitutionError as exc:
                findings.append(
                    Finding(
                        Severity.ERROR,
                        "render",
                        f"postBuild: envsubst error: variable substitution failed: {exc}",
                        file=m.file,
                        line=m.line,
                        object=m.key,
                    )
                )
                continue
            body = load_one(text.encode(), max_bytes=max_bytes)
            if not isinstance(body, dict):
                findings.append(
                    Finding(
                        Severity.ERROR,
                        "render",
                        "postBuild: the object is not valid YAML after substitution",
                        file=m.file,
                        line=m.line,
                        object=m.key,
                    )
                )
                continue
        if common:
            body = _with_metadata(body, common)
        out.append(Manifest(body, m.file, m.line))
    return out, findings
