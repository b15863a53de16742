"""In-process schema validation: bundled Kubernetes schemas, repository CRDs and the shipped
CRD catalogue, compiled once per kind; SOPS-encrypted objects against a relaxed variant."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import threading
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.model import Finding, Manifest, Severity
from bot.secrets import is_secret
from bot.validate.deprecations import api_findings
from bot.validate import catalogue, compact, crds, schemas, sops
from bot.validate.schemas import CompiledSchema, SchemaUnusable, UnsupportedVersion

CHECK = "validate"


def finding(manifest: Manifest | None, message: str) -> Finding:
    """An ERROR validate finding located at `manifest` (when given)."""
    if manifest is None:
        return Finding(Severity.ERROR, CHECK, message)
    key = manifest.key if isinstance(manifest.body, Mapping) else None
    return Finding(
        Severity.ERROR, CHECK, message, file=manifest.file, line=manifest.line, object=key
    )


def object_label(manifest: Manifest) -> str:
    """`Kind/name` or `Kind/namespace/name` for messages."""
    return str(manifest.key)


def skipped(skip_kinds: Collection[str], api_version: str, kind: str) -> bool:
    """kubeconform's `-skip` rule: an entry is a Kind or `group/version/Kind` (`v1/Kind`)."""
    return kind in skip_kinds or f"{api_version}/{kind}" in skip_kinds


def identity_problem(body: Any) -> str | None:
    """Why `body` cannot be identified (no apiVersion/kind/metadata.name), or None.

    `metadata.generateName` stands for the name: the API server makes one (Argo CD hook
    Jobs), and kubeconform accepts such objects.
    """
    if not isinstance(body, Mapping):
        return f"document is a {type(body).__name__}, not a Kubernetes object"
    missing = [
        k for k in ("apiVersion", "kind") if not isinstance(body.get(k), str) or not body.get(k)
    ]
    meta = body.get("metadata")
    if not isinstance(meta, Mapping) or not any(
        isinstance(meta.get(k), str) and meta.get(k) for k in ("name", "generateName")
    ):
        missing.append("metadata.name")
    if not missing:
        return None
    return (
        f"object without {', '.join(missing)}: every object needs apiVersion, kind and "
        "metadata.name"
    )


def plain(value: Any) -> Any:
    """`value` with YAML dates/timestamps as strings, as Kubernetes' YAML decoder sees them."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Plan:
    """What validating one manifest means: check against `schema`, or report `findings`.

    Neither set means the object is skipped (its kind is on the skip list); both set means
    notes (INFO) about how it is checked.
    """

    manifest: Manifest
    schema: CompiledSchema | None = None
    findings: tuple[Finding, ...] = ()


def _minor(version: str) -> str:
    return version[1:].rsplit(".", 1)[0]


class EmbeddedValidator:
    """Validates manifests against the bundled schemas (and CRDs), all in this process."""

    def __init__(
        self,
        *,
        strict: bool = True,
        skip_kinds: Collection[str] = (),
        crd_dirs: Sequence[Path] = (),
    ) -> None:
        self.strict = strict
        self.skip_kinds = frozenset(skip_kinds)
        self.crd_dirs = tuple(Path(d) for d in crd_dirs)
        self._dir_crds: Mapping[crds.GVK, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _crds_from_dirs(self) -> Mapping[crds.GVK, dict[str, Any]]:
        if self._dir_crds is None:
            with self._lock:
                if self._dir_crds is None:
                    try:
                        self._dir_crds = crds.load_crd_dirs(self.crd_dirs, self.strict)
                    except (OSError, ValueError) as exc:
                        raise ConfigError(f"cannot read CRD folder: {exc}") from exc
        return self._dir_crds

    def _crd_schema(self, version: str, schema: Mapping[str, Any]) -> CompiledSchema | None:
        digest = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        defs = schemas.definitions(version, self.strict)
        return schemas.compiled(
            ("crd", version, self.strict, digest),
            lambda: schemas.self_contained(compact.share_repeats(schema), defs),
        )

    def _catalogue_schema(self, version: str, gvk: crds.GVK) -> CompiledSchema | None:
        strict = self.strict

        def build() -> dict[str, Any] | None:
            found = catalogue.schema(gvk, strict)
            return (
                None
                if found is None
                else schemas.self_contained(found, schemas.definitions(version, strict))
            )

        return schemas.compiled(("catalogue", version, strict, gvk), build)

    def _resolve(
        self,
        version: str,
        api_version: str,
        kind: str,
        local: Callable[[], Mapping[crds.GVK, dict[str, Any]]],
    ) -> CompiledSchema | str:
        """Built-in kinds first (a CRD cannot take over a Kubernetes API group), then the
        repository's CRDs (render, then CRD folders), then the shipped catalogue."""
        strict = self.strict
        found = schemas.compiled(
            ("k8s", version, strict, api_version, kind),
            lambda: schemas.builtin_schema(version, strict, api_version, kind),
        )
        if found is not None:
            return found
        group, ver = schemas.split_api_version(api_version)
        gvk = (group, ver, kind)
        crd = local().get(gvk) or self._crds_from_dirs().get(gvk)
        if crd is not None:
            compiled = self._crd_schema(version, crd)
            assert compiled is not None
            return compiled
        found = self._catalogue_schema(version, gvk)
        if found is not None:
            return found
        minor = _minor(version)
        served = schemas.served_api_versions(version, group, kind)
        if served:
            return (
                f"{kind} is not served as {api_version} in Kubernetes {minor} "
                f"(served: {', '.join(served)})"
            )
        known = catalogue.versions_of(group, kind)
        also = f" (the bundled catalogue has {', '.join(known)})" if known else ""
        return (
            f"no schema for {api_version} {kind} in Kubernetes {minor}{also}: add its "
            "CustomResourceDefinition to the render or to a CRD folder, or list the kind "
            "in skip_kinds"
        )

    def _encrypted(
        self, manifest: Manifest, schema: CompiledSchema
    ) -> tuple[CompiledSchema, tuple[Finding, ...]]:
        """The SOPS variant of `schema` for an encrypted object, and the finding saying so."""
        label = object_label(manifest)
        note = Finding(
            Severity.INFO,
            CHECK,
            f"{label}: SOPS-encrypted: checked with its `sops` "
            "block allowed and encrypted values accepted in place of any scalar "
            "(their decrypted contents are not checked)",
            file=manifest.file,
            line=manifest.line,
            object=manifest.key,
        )
        return schema.derived("sops", sops.variant), (note,)

    def plan(self, manifests: Sequence[Manifest], version: str) -> list[Plan]:
        """Decide, per manifest, which compiled schema checks it (`version` is normalised)."""
        # the render's CRDs are converted only when a kind is not built in (a CRD of 1 MB
        # costs a third of a second)
        local = functools.cache(lambda: crds.schemas_from([m.body for m in manifests], self.strict))
        resolved: dict[Hashable, CompiledSchema | str] = {}
        plans: list[Plan] = []
        for manifest in manifests:
            problem = identity_problem(manifest.body)
            encrypted = sops.is_encrypted(manifest.body)
            hidden = sops.encrypted_identity(manifest.body) if encrypted and not problem else []
            if hidden:
                problem = (
                    f"SOPS encrypted {' and '.join(hidden)}, so the object cannot be "
                    "identified: leave them in clear (e.g. encrypted_regex: "
                    "^(data|stringData)$)"
                )
            if problem:
                plans.append(Plan(manifest, findings=(finding(manifest, problem),)))
                continue
            api_version, kind = manifest.api_version, manifest.kind
            if skipped(self.skip_kinds, api_version, kind):
                plans.append(Plan(manifest))
                continue
            key = (api_version, kind)
            if key not in resolved:
                resolved[key] = self._resolve(version, api_version, kind, local)
            outcome = resolved[key]
            if isinstance(outcome, str):
                msg = f"{object_label(manifest)}: {outcome}"
                plans.append(Plan(manifest, findings=(finding(manifest, msg),)))
            elif encrypted:
                variant, notes = self._encrypted(manifest, outcome)
                plans.append(Plan(manifest, schema=variant, findings=notes))
            else:
                plans.append(Plan(manifest, schema=outcome))
        return plans

    def check(self, manifest: Manifest, schema: CompiledSchema) -> list[Finding]:
        """Findings for every schema violation of one manifest (none when it is valid)."""
        label = object_label(manifest)
        try:
            if schema.is_valid(manifest.body):
                return []
            errors = schema.errors(plain(manifest.body), quote_values=not is_secret(manifest.body))
        except SchemaUnusable as exc:
            return [finding(manifest, f"{label}: {exc}")]
        return [
            finding(
                manifest, f"{label}: {e.path}: {e.message}" if e.path else f"{label}: {e.message}"
            )
            for e in errors
        ]

    def validate(self, manifests: Sequence[Manifest], kubernetes_version: str) -> list[Finding]:
        """Schema findings for `manifests` against Kubernetes `kubernetes_version`.

        Duplicates are not checked here: call `duplicate_findings` for those.
        """
        try:
            version = schemas.normalize_version(kubernetes_version)
        except UnsupportedVersion as exc:
            return [finding(None, str(exc))]
        findings, manifests = api_findings(manifests, kubernetes_version)
        for item in self.plan(manifests, version):
            findings.extend(item.findings)
            if item.schema is not None:
                findings.extend(self.check(item.manifest, item.schema))
        return findings
