"""On-disk render cache: one JSON file per (target, inputs, tools, options) key.

The key is computed from the git blob ids of everything a target reads, so a change that
leaves an app's inputs alone never re-renders it. Files are written atomically in the
bot's private data directory; a corrupt or unreadable entry is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.model import (
    Danger,
    DiffStatus,
    Finding,
    Manifest,
    ObjectDiff,
    ObjKey,
    Severity,
    State,
    Target,
    TargetResult,
)

CACHE_FORMAT = "4"  # 4: kustomize objects with the line of their document


def cache_key(*parts: Any) -> str:
    """A stable sha256 key over JSON-serialisable parts."""
    blob = json.dumps([CACHE_FORMAT, *parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def target_fingerprint(target: Target) -> dict[str, Any]:
    """The target's settings that change what it renders to."""
    return asdict(target)


def checks_key(*, validator: str, validation: Any, schemas: str, crds: str, policies: str) -> str:
    """What a checked render's findings depend on besides the render: the validator's kind,
    the validation settings, the schema package's version, the CRD folders' digest and the
    policy revisions (`PolicyStep.cache_id`: engine, server set, repository set)."""
    return cache_key("checks", validator, validation, schemas, crds, policies)


def render_key(
    *, target: Target, tool: str, budgets: Any, inputs: str, checks: str | None, namespace: str = ""
) -> str:
    """The one key of a cached render: everything that can change what a target renders to
    and what its checks find.

    `target`: app, environment, renderer, path, values files, release, namespace and
    Kubernetes version; `tool`: the renderer and its version; `budgets`: the render options
    and limits; `inputs`: the digest of every file the render reads (`gitrepo.input_digest`
    over `repo.targets.target_inputs`); `checks`: None for a render without checks, else
    `checks_key(...)`; `namespace`: where a namespaced object without one lands (the
    duplicates check judges objects there).
    """
    return cache_key(
        "render",
        target_fingerprint(target),
        tool,
        budgets,
        inputs,
        checks,
        namespace if checks is not None else None,
    )


def _finding_to_json(f: Finding) -> dict[str, Any]:
    return {
        "severity": int(f.severity),
        "check": f.check,
        "message": f.message,
        "file": f.file,
        "line": f.line,
        "rule": f.rule,
        "new": f.new,
        "owners": list(f.owners),
        "object": [f.object.group, f.object.kind, f.object.namespace, f.object.name]
        if f.object
        else None,
    }


def _finding_from_json(d: Mapping[str, Any]) -> Finding:
    obj = d.get("object")
    return Finding(
        severity=Severity(d["severity"]),
        check=d["check"],
        message=d["message"],
        file=d.get("file"),
        line=d.get("line"),
        rule=d.get("rule"),
        object=ObjKey(*obj) if obj else None,
        new=bool(d.get("new", True)),
        owners=tuple(d.get("owners") or ()),
    )


def _diff_to_json(d: ObjectDiff) -> list[Any]:
    k = d.key
    r = d.renamed_from
    return [
        [k.group, k.kind, k.namespace, k.name],
        d.status.value,
        d.diff,
        list(d.changed_fields),
        d.file,
        d.line,
        [r.group, r.kind, r.namespace, r.name] if r else None,
    ]


def _diff_from_json(v: Sequence[Any]) -> ObjectDiff:
    renamed = v[6] if len(v) > 6 else None
    return ObjectDiff(
        ObjKey(*v[0]),
        DiffStatus(v[1]),
        v[2],
        tuple(v[3]),
        v[4],
        v[5],
        ObjKey(*renamed) if renamed else None,
    )


def _danger_from_json(d: Mapping[str, Any]) -> Danger:
    obj = d.get("object")
    return Danger(
        d["kind"],
        d["message"],
        d["severity"],
        ObjKey(**obj) if obj else None,
        d.get("field"),
        d.get("file"),
        d.get("line"),
        d.get("count", 0),
    )


class RenderCache:
    """Cached renders (manifests, findings) and whole target results, per key.

    A `None` directory disables caching.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def get(self, key: str) -> tuple[tuple[Manifest, ...], tuple[Finding, ...]] | None:
        """The cached entry, or None on a miss (or an unreadable entry)."""
        if self.directory is None:
            return None
        try:
            data = json.loads((self.directory / f"{key}.json").read_bytes())
            manifests = tuple(Manifest(m["body"], m["file"], m["line"]) for m in data["manifests"])
            findings = tuple(_finding_from_json(f) for f in data["findings"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return manifests, findings

    def get_result(self, key: str, target: Target) -> TargetResult | None:
        """A whole target result (diffs and findings) stored by `put_result`, marked cached."""
        if self.directory is None:
            return None
        try:
            data = json.loads((self.directory / f"result-{key}.json").read_bytes())
            return TargetResult(
                target,
                State(data["state"]),
                diffs=tuple(_diff_from_json(d) for d in data["diffs"]),
                findings=tuple(_finding_from_json(f) for f in data["findings"]),
                cached=True,
                dangers=tuple(_danger_from_json(d) for d in data["dangers"]),
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def put_result(self, key: str, result: TargetResult) -> None:
        """Store a target result (without timing) for `get_result`."""
        self._write(
            f"result-{key}",
            {
                "state": int(result.state),
                "diffs": [_diff_to_json(d) for d in result.diffs],
                "findings": [_finding_to_json(f) for f in result.findings],
                "dangers": [asdict(d) for d in result.dangers],
            },
        )

    def put(self, key: str, manifests: Sequence[Manifest], findings: Sequence[Finding]) -> None:
        """Store an entry atomically; failures to write are ignored (a cache is optional)."""
        self._write(
            key,
            {
                "manifests": [{"body": m.body, "file": m.file, "line": m.line} for m in manifests],
                "findings": [_finding_to_json(f) for f in findings],
            },
        )

    def _write(self, name: str, data: Mapping[str, Any]) -> None:
        if self.directory is None:
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, separators=(",", ":"), default=str)
            os.replace(tmp, self.directory / f"{name}.json")
        except (OSError, TypeError, ValueError):
            pass
