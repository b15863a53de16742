"""References in a chart's values.schema.json: only fragments of the document itself.

helm validates values against `values.schema.json` of the chart and of every subchart, and
its JSON-schema compiler loads whatever `$ref`, `$dynamicRef` and `$schema` name: `file://`
URIs and paths from the bot's host (a relative `other.json` resolves against
`file:///values.schema.json`, the host's root, never the chart), or the network. The error
tells whether the file exists and how it starts. So before helm runs, every reference must
be a fragment (`#...`) of the document it is in, and `$schema` one of the metaschemas built
into the compiler. Fragments are safe even after an `$id`: they resolve against the schema
resource that contains them, which the compiler already holds in memory.

The file must be strict JSON (UTF-8, optional byte-order mark, no NaN, no duplicate keys),
so that this check and helm read the same document.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from bot.errors import BudgetExceeded
from bot.model import Finding, Severity
from bot.render.sandbox import Budgets, Refused, read_limited

SCHEMA = "values.schema.json"
REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords whose values are instance data, not schemas: a `$ref` inside them is just data.
DATA_KEYWORDS = frozenset({"default", "enum", "const", "examples", "example"})
METASCHEMAS = frozenset(
    f"{scheme}://json-schema.org/{path}"
    for scheme in ("http", "https")
    for path in (
        "schema",
        "draft-04/schema",
        "draft-06/schema",
        "draft-07/schema",
        "draft/2019-09/schema",
        "draft/2020-12/schema",
    )
)
GZIP_MAGIC = b"\x1f\x8b"
MAX_ARCHIVE_DEPTH = 4
MAX_ARCHIVE_BYTES = 100 * 1024 * 1024  # helm's own limit for an unpacked chart archive


class _Bad(ValueError):
    """The schema file cannot be read the way helm reads it."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Bad(f"duplicate key {key}")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise _Bad(f"not strict JSON: {name}")


def parse_schema(data: bytes) -> Any:
    """The document helm would read; _Bad when Python and helm might disagree on it."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except _Bad:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Bad(f"not strict JSON: {str(exc)[:120]}") from None


def reference_problems(node: Any) -> list[str]:
    """`$ref X` for each reference that is not a fragment of this document (keywords in
    instance data such as `default` or `examples` are data, not references)."""
    problems: list[str] = []
    if isinstance(node, list):
        for item in node:
            problems += reference_problems(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in REF_KEYS and not (isinstance(value, str) and value.startswith("#")):
                problems.append(f"{key} {value}")
            elif key == "$schema" and not (
                isinstance(value, str) and value.removesuffix("#") in METASCHEMAS
            ):
                problems.append(f"{key} {value}")
            elif key not in DATA_KEYWORDS:
                problems += reference_problems(value)
    return problems


def _check(data: bytes, shown: str) -> list[Finding]:
    try:
        problems = reference_problems(parse_schema(data))
    except _Bad as exc:
        return [
            Finding(
                Severity.ERROR,
                "sandbox",
                f"{shown} is refused: {exc} (the bot must read it exactly as helm does)",
                file=shown,
            )
        ]
    return [
        Finding(
            Severity.ERROR,
            "sandbox",
            f"{shown}: {problem} is not a reference inside "
            "this schema; refused (helm would load it from the bot's host)",
            file=shown,
        )
        for problem in problems
    ]


def schema_findings(chart: Path, shown: str, budgets: Budgets) -> list[Finding]:
    """Refusals for the schemas of `chart` (a sandbox copy) and of all its subcharts,
    vendored as folders or archives; `shown` is the chart's repository path."""
    findings: list[Finding] = []
    if (chart / SCHEMA).is_file():
        findings += _check(
            read_limited(chart / SCHEMA, budgets.max_file_bytes, f"{shown}/{SCHEMA}"),
            f"{shown}/{SCHEMA}",
        )
    charts = chart / "charts"
    if not charts.is_dir():
        return findings
    for entry in sorted(charts.iterdir()):
        label = f"{shown}/charts/{entry.name}"
        if entry.is_dir():
            findings += schema_findings(entry, label, budgets)
        elif entry.is_file():
            data = read_limited(entry, budgets.max_app_bytes, label)
            if data.startswith(GZIP_MAGIC):
                findings += _archive(data, label, budgets, 1)
    return findings


def _archive(data: bytes, shown: str, budgets: Budgets, depth: int) -> list[Finding]:
    if depth > MAX_ARCHIVE_DEPTH:
        raise Refused(f"{shown}: charts nested more than {MAX_ARCHIVE_DEPTH} archives deep")
    findings: list[Finding] = []
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                total += member.size
                if total > MAX_ARCHIVE_BYTES:
                    raise BudgetExceeded(f"{shown} unpacks to more than {MAX_ARCHIVE_BYTES} bytes")
                if not member.isfile():
                    continue
                name = f"{shown}:{member.name}"
                parts = member.name.split("/")
                if parts[-1] == SCHEMA:
                    findings += _check(_member(tar, member, budgets.max_file_bytes, name), name)
                elif len(parts) > 2 and parts[-2] == "charts":
                    inner = _member(tar, member, MAX_ARCHIVE_BYTES, name)
                    if inner.startswith(GZIP_MAGIC):
                        findings += _archive(inner, name, budgets, depth + 1)
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, OSError) as exc:
        raise Refused(f"{shown} is not a readable chart archive ({exc})") from None
    return findings


def _member(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int, shown: str) -> bytes:
    if member.size > limit:
        raise BudgetExceeded(f"{shown} is too large ({member.size} bytes, limit {limit})")
    handle = tar.extractfile(member)
    return handle.read() if handle is not None else b""
