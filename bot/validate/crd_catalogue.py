"""Build the shipped CRD schema catalogue from upstream CustomResourceDefinition files.

Input: a folder with one subfolder per project (`flux/`, `argo-cd/`, ...) holding CRD YAML
files (anything else in them is ignored). Output: `<group>/<kind>_<version>.json` per served
version (the strict JSON schema `crds.to_json_schema` makes, as for a repository's own CRDs,
with repeated blocks shared through `$defs`, plus `x-kubernetes-group-version-kind`) and
`index.json` naming each kind's project. Files are read in sorted path order and the first
definition of a kind wins inside a project (so a project lists preferred sources first); a
kind defined by two projects is an error. The output is byte-for-byte the same for the same
input.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.validate import compact, crds
from bot.validate.catalogue import INDEX_FILE, gvk_key, relax, relative_path

YAML_SUFFIXES = (".yaml", ".yml")


class CatalogueError(ValueError):
    """The input cannot become a catalogue (bad YAML, conflicting or unusual CRDs)."""


@dataclass(frozen=True)
class Entry:
    """One catalogue schema: its kind, the project it comes from and the source file."""

    gvk: crds.GVK
    project: str
    source: str
    schema: Mapping[str, Any]


def dump(data: Any) -> str:
    """The catalogue's one JSON spelling: sorted keys, compact, final newline."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def _has_closed_object(node: Any) -> bool:
    if isinstance(node, Mapping):
        return node.get("additionalProperties") is False or any(
            _has_closed_object(v) for v in node.values()
        )
    if isinstance(node, list):
        return any(_has_closed_object(v) for v in node)
    return False


def served_schemas(
    body: Mapping[str, Any], source: str
) -> Iterator[tuple[crds.GVK, dict[str, Any]]]:
    """(gvk, strict JSON schema) for each served version of one CRD manifest."""
    versions = body.get("spec", {}).get("versions") or []
    unserved = {
        v.get("name") for v in versions if isinstance(v, Mapping) and v.get("served") is False
    }
    for gvk, openapi in crds.crd_versions(body):
        if gvk[1] in unserved:
            continue
        # The non-strict catalogue schema is the strict one minus `additionalProperties:
        # false`; that only holds while the CRD itself never says false (v1 forbids it).
        if _has_closed_object(openapi):
            raise CatalogueError(f"{source}: {gvk_key(gvk)} has additionalProperties: false")
        schema = crds.to_json_schema(openapi, gvk, strict=True)
        group, version, kind = gvk
        schema["x-kubernetes-group-version-kind"] = [
            {"group": group, "kind": kind, "version": version}
        ]
        if relax(schema) != {
            **crds.to_json_schema(openapi, gvk, strict=False),
            "x-kubernetes-group-version-kind": schema["x-kubernetes-group-version-kind"],
        }:
            raise CatalogueError(
                f"{source}: {gvk_key(gvk)}: strict and relaxed schemas "
                "differ by more than closed objects"
            )
        yield gvk, compact.share_repeats(schema)


def _documents(path: Path, label: str) -> list[Mapping[str, Any]]:
    try:
        return crds.load_documents(path.read_text("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{label}: not valid YAML: {exc}") from exc


def collect(crd_dir: Path, groups: Mapping[str, Collection[str]] | None = None) -> list[Entry]:
    """Every served CRD version under `crd_dir/<project>/` (optionally only some groups)."""
    entries: dict[crds.GVK, Entry] = {}
    projects = sorted(p for p in crd_dir.iterdir() if p.is_dir())
    if not projects:
        raise CatalogueError(f"{crd_dir}: no project folders with CRD files")
    for project_dir in projects:
        project = project_dir.name
        wanted = (groups or {}).get(project)
        files = sorted(
            p for p in project_dir.rglob("*") if p.is_file() and p.suffix in YAML_SUFFIXES
        )
        for path in files:
            label = path.relative_to(crd_dir).as_posix()
            for body in _documents(path, label):
                if not crds.is_crd(body):
                    continue
                for gvk, schema in served_schemas(body, label):
                    if wanted is not None and gvk[0] not in wanted:
                        continue
                    seen = entries.get(gvk)
                    if seen is not None and seen.project != project:
                        raise CatalogueError(
                            f"{label}: {gvk_key(gvk)} is also defined by {seen.source}"
                        )
                    if seen is None:
                        entries[gvk] = Entry(gvk, project, label, schema)
    return [entries[gvk] for gvk in sorted(entries)]


def render(entries: Collection[Entry]) -> dict[str, str]:
    """Relative file name -> text for the whole catalogue (schemas and index)."""
    files = {relative_path(e.gvk): dump(e.schema) for e in entries}
    index = {gvk_key(e.gvk): e.project for e in entries}
    files[INDEX_FILE] = dump({"kinds": index})
    return files


def write(out_dir: Path, files: Mapping[str, str]) -> list[Path]:
    """Replace the catalogue in `out_dir` by `files`; returns the stale files removed.

    Only `index.json` and the `*.json` files of group folders belong to the catalogue;
    other files there (provenance, sources) are left alone.
    """
    stale = [p for p in out_dir.glob("*/*.json") if p.relative_to(out_dir).as_posix() not in files]
    for path in stale:
        path.unlink()
    for folder in sorted({p.parent for p in stale}):
        if not any(folder.iterdir()):
            folder.rmdir()
    for name, text in sorted(files.items()):
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text("utf-8") != text:
            target.write_text(text, "utf-8")
    return stale


def provenance(sources: Mapping[str, Any], entries: Collection[Entry]) -> str:
    """PROVENANCE.md for the catalogue: where each project's CRDs come from, what was kept."""
    lines = [
        "# Provenance of the custom resource schema catalogue",
        "",
        "Generated by `scripts/gen-crd-schemas` from `sources.json`; do not edit by hand.",
        "",
        "Each `<group>/<kind>_<version>.json` here is derived from the `openAPIV3Schema` of one",
        "served version of an upstream CustomResourceDefinition listed below. Changes made to",
        "the upstream text: converted from OpenAPI v3 to a JSON schema (draft 7) the way",
        "`bot/validate/crds.py` converts a repository's own CRDs (strict: objects that list",
        "`properties` are closed unless the CRD preserves unknown fields there); descriptions,",
        "defaults, formats and Kubernetes extensions other than the ones that change validation",
        "dropped; `apiVersion`, `kind` and `metadata` fixed at the root;",
        "`x-kubernetes-group-version-kind` added. `index.json` lists every kind and its project.",
        "",
        "All sources are licensed under the Apache License, Version 2.0",
        "(https://www.apache.org/licenses/LICENSE-2.0), like this project.",
        "",
    ]
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.project] = counts.get(entry.project, 0) + 1
    for name, project in sorted(sources["projects"].items()):
        kinds = sorted(gvk_key(e.gvk) for e in entries if e.project == name)
        lines += [f"## {project.get('title', name)} (`{name}`, {counts.get(name, 0)} schemas)", ""]
        if project.get("groups"):
            lines += [
                "API groups kept: " + ", ".join(f"`{g}`" for g in project["groups"]) + ".",
                "",
            ]
        lines += [
            "| Repository | Tag | Commit | Paths | Licence |",
            "| --- | --- | --- | --- | --- |",
        ]
        for src in project["sources"]:
            paths = "<br>".join(f"`{p}`" for p in src["paths"])
            lines.append(
                f"| https://github.com/{src['repository']} | `{src['tag']}` | "
                f"`{src['commit']}` | {paths} | {src['licence']} |"
            )
        lines.append("")
        notices = [src["notice"] for src in project["sources"] if src.get("notice")]
        for notice in notices:
            lines += ["Upstream NOTICE:", "", "```", *notice.splitlines(), "```", ""]
        lines += ["Kinds: " + ", ".join(f"`{k}`" for k in kinds) + ".", ""]
    return "\n".join(lines)
