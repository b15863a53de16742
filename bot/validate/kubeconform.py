"""Schema validation by the kubeconform binary, against the same local schemas.

Every run writes the self-contained schemas the manifests need (bundled kinds and CRDs,
exactly what EmbeddedValidator compiles) into a private temporary folder laid out as
kubeconform expects, and each manifest into its own numbered file, so every result maps
back to one Manifest. kubeconform never sees a schema URL chosen by the pull request and
runs without network. Objects whose kind, skip rule or identity the embedded planner
already settles (unknown kinds, skipped kinds, objects without a name) never reach it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot import proc, scratch
from bot.errors import ToolError
from bot.model import Finding, Manifest
from bot.validate.deprecations import api_findings
from bot.validate import schemas
from bot.validate.embedded import EmbeddedValidator, Plan, finding, object_label, plain
from bot.validate.schemas import UnsupportedVersion

SCHEMA_TEMPLATE = (
    "{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/"
    "{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
_DOC = re.compile(r"(\d+)\.yaml$")


def pointer_to_path(pointer: str) -> str:
    """A JSON pointer (`/spec/containers/0`) as our dotted path (`spec.containers[0]`)."""
    if not pointer or pointer == "/":
        return ""
    parts: list[Any] = []
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        parts.append(int(part) if part.isdigit() else part)
    return schemas.format_path(parts)


def parse_output(stdout: bytes | str) -> list[Mapping[str, Any]]:
    """The `resources` of kubeconform's `-output json` document (ToolError if it is not one)."""
    try:
        data = json.loads(stdout)
    except ValueError as exc:
        raise ToolError(f"kubeconform printed something other than JSON: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("resources"), list):
        raise ToolError("kubeconform JSON output has no `resources` list")
    return [r for r in data["resources"] if isinstance(r, Mapping)]


def status_of(result: Mapping[str, Any]) -> str:
    """`valid`, `invalid`, `error`, `skipped` or `empty` (accepts `statusInvalid`, `INVALID`)."""
    status = str(result.get("status") or "").lower()
    return status.removeprefix("status")


def result_findings(manifest: Manifest, result: Mapping[str, Any]) -> list[Finding]:
    """Findings for one kubeconform result about `manifest`."""
    status, label = status_of(result), object_label(manifest)
    if status in ("valid", "skipped", "empty"):
        return []
    errors = result.get("validationErrors")
    if status == "invalid" and isinstance(errors, list) and errors:
        out = []
        for error in errors:
            if not isinstance(error, Mapping):
                continue
            path = pointer_to_path(str(error.get("path") or ""))
            msg = str(error.get("msg") or "is invalid")
            out.append(finding(manifest, f"{label}: {path}: {msg}" if path else f"{label}: {msg}"))
        if out:
            return out
    msg = str(result.get("msg") or f"kubeconform status {result.get('status')!r}")
    return [finding(manifest, f"{label}: {msg}")]


class KubeconformValidator:
    """Validates manifests by running kubeconform (`-output json -strict`) on local schemas."""

    def __init__(
        self,
        kubeconform: str,
        *,
        strict: bool = True,
        skip_kinds: Collection[str] = (),
        crd_dirs: Sequence[Path] = (),
        timeout: float = 120.0,
    ) -> None:
        self.kubeconform = kubeconform
        self.strict = strict
        self.timeout = timeout
        self._planner = EmbeddedValidator(strict=strict, skip_kinds=skip_kinds, crd_dirs=crd_dirs)

    def argv(self, version: str, schema_root: Path, docs: Path) -> list[str]:
        """kubeconform's command line for a run (`version` like `v1.35.0`)."""
        argv = [
            self.kubeconform,
            "-output",
            "json",
            "-summary",
            "-verbose",
            "-kubernetes-version",
            version.lstrip("v"),
            "-schema-location",
            f"{schema_root}/{SCHEMA_TEMPLATE}",
        ]
        return [*argv, *(["-strict"] if self.strict else []), str(docs)]

    def validate(self, manifests: Sequence[Manifest], kubernetes_version: str) -> list[Finding]:
        """Schema findings for `manifests`, as EmbeddedValidator.validate reports them."""
        try:
            version = schemas.normalize_version(kubernetes_version)
        except UnsupportedVersion as exc:
            return [finding(None, str(exc))]
        findings, manifests = api_findings(manifests, kubernetes_version)
        to_run: list[Plan] = []
        for item in self._planner.plan(manifests, version):
            findings.extend(item.findings)
            if item.schema is not None:
                to_run.append(item)
        if to_run:
            findings.extend(self._run(version, to_run))
        return findings

    def _run(self, version: str, plans: list[Plan]) -> list[Finding]:
        findings: list[Finding] = []
        with scratch.temporary("gitops-bot-kubeconform-") as tmp:
            root, docs = Path(tmp, "schemas"), Path(tmp, "manifests")
            folder = root / f"{version}-local{'-strict' if self.strict else ''}"
            folder.mkdir(parents=True)
            docs.mkdir()
            owners: dict[str, schemas.CompiledSchema] = {}
            sent: dict[int, Manifest] = {}
            for index, item in enumerate(plans):
                manifest, schema = item.manifest, item.schema
                assert schema is not None
                name = schemas.schema_filename(manifest.api_version, manifest.kind)
                if owners.setdefault(name, schema) is not schema:
                    # kubeconform's file name keeps only the group's first label, and a kind
                    # may need two schemas in one run (SOPS-encrypted objects get a variant):
                    # a clash is checked in-process instead of against the wrong schema.
                    findings.extend(self._planner.check(manifest, schema))
                    continue
                if not (folder / name).exists():
                    (folder / name).write_text(json.dumps(schema.schema), "utf-8")
                # JSON is YAML: no re-serialisation quirks, one object per file.
                (docs / f"{index:06d}.yaml").write_text(json.dumps(plain(manifest.body)), "utf-8")
                sent[index] = manifest
            if sent:
                findings.extend(self._execute(version, root, docs, sent, str(tmp)))
        return findings

    def _execute(
        self, version: str, root: Path, docs: Path, sent: Mapping[int, Manifest], home: str
    ) -> list[Finding]:
        done = proc.run(
            self.argv(version, root, docs),
            cwd=home,
            timeout=self.timeout,
            env=proc.clean_env(home=home),
            no_network=True,
            check=False,
        )
        if done.returncode not in (0, 1):
            raise ToolError(
                f"kubeconform exited with code {done.returncode}",
                argv=list(done.argv),
                returncode=done.returncode,
                stderr=done.stderr_tail,
            )
        findings: list[Finding] = []
        seen: set[int] = set()
        for result in parse_output(done.stdout):
            match = _DOC.search(os.path.basename(str(result.get("filename") or "")))
            if not match or int(match.group(1)) not in sent:
                raise ToolError(
                    f"kubeconform reported an unknown file: {result.get('filename')}",
                    stderr=done.stderr_tail,
                )
            index = int(match.group(1))
            seen.add(index)
            findings.extend(result_findings(sent[index], result))
        for index in sorted(set(sent) - seen):  # fail closed: silence is not success
            findings.append(
                finding(
                    sent[index],
                    f"{object_label(sent[index])}: kubeconform reported no result for this object",
                )
            )
        return findings
