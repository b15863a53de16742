"""`$ref`s in a chart's values.schema.json are refused unless they stay in the document."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from bot.model import Target
from bot.render import render_target
from bot.tools import Tools
from tests.conftest import write_tree
from tests.render.conftest import Canary, Recorded

CHART = "apiVersion: v2\nname: {}\nversion: 0.1.0\n"
CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Chart.Name }}
data:
  x: {{ .Values.x | quote }}
"""
SCHEMA_FILE = "charts/shop/values.schema.json"


def helm() -> Target:
    return Target(app="shop", environment="prod", renderer="helm", path="charts/shop")


def chart(
    root: Path, schema: dict[str, Any] | str | bytes, path: str = "charts/shop", name: str = "shop"
) -> None:
    text = schema if isinstance(schema, (str, bytes)) else json.dumps(schema)
    write_tree(
        root,
        {
            f"{path}/Chart.yaml": CHART.format(name),
            f"{path}/values.yaml": "x: 1\n",
            f"{path}/templates/cm.yaml": CM,
            f"{path}/values.schema.json": text,
        },
    )


def host_schema(tmp_path: Path) -> Path:
    """A file on the bot's host, outside any checkout: helm read it through the schema."""
    path = tmp_path / "host" / "probe.json"
    path.parent.mkdir()
    path.write_text('{"type": "string"}')
    return path


def refs(tmp_path: Path, canary: Canary) -> dict[str, dict[str, Any]]:
    probe = host_schema(tmp_path).as_uri()
    prop = {"type": "object", "properties": {"x": {}}}
    return {
        "file-uri": {**prop, "properties": {"x": {"$ref": probe}}},
        "absolute-path": {**prop, "properties": {"x": {"$ref": str(tmp_path / "host/probe.json")}}},
        # helm resolves a relative file against file:///values.schema.json: the host's root
        "relative-file": {**prop, "properties": {"x": {"$ref": "probe.json"}}},
        "dot-dot": {**prop, "properties": {"x": {"$ref": "../../../etc/hostname"}}},
        "http": {**prop, "properties": {"x": {"$ref": canary.url + "/x.json"}}},
        "id-rebased": {
            "$id": (tmp_path / "host").as_uri() + "/",
            **prop,
            "properties": {"x": {"$ref": "probe.json"}},
        },
        "draft4-id": {
            "id": (tmp_path / "host").as_uri() + "/",
            **prop,
            "properties": {"x": {"$ref": "probe.json"}},
        },
        "dynamic-ref": {**prop, "properties": {"x": {"$dynamicRef": probe}}},
        "metaschema": {"$schema": probe, "type": "object"},
        "nested-in-defs": {**prop, "definitions": {"a": {"allOf": [{"$ref": probe}]}}},
    }


@pytest.mark.parametrize(
    "case",
    [
        "file-uri",
        "absolute-path",
        "relative-file",
        "dot-dot",
        "http",
        "id-rebased",
        "draft4-id",
        "dynamic-ref",
        "metaschema",
        "nested-in-defs",
    ],
)
def test_schema_refs_leaving_the_chart_are_refused_before_helm_runs(
    tmp_path: Path, recorded: Recorded, canary: Canary, case: str
) -> None:
    """Reproduces issue 14 item 11: helm resolved `$ref`s (and `$schema`, `$dynamicRef`,
    and relative refs after an `$id`) of values.schema.json on the bot's host, so a chart
    could probe which files exist there and learn their first bytes from the error. Now
    every reference that is not a fragment of the document itself is refused by name and
    helm never runs."""
    schema = refs(tmp_path, canary)[case]
    chart(tmp_path / "repo", schema)
    result = render_target(tmp_path / "repo", helm(), recorded.tools)
    assert not result.ok and result.manifests == ()
    (finding,) = result.findings
    keyword, ref = next(
        (k, v) for k, v in _pairs(schema) if k in ("$ref", "$dynamicRef", "$schema")
    )
    assert (finding.check, finding.file) == ("sandbox", SCHEMA_FILE)
    assert finding.message == (
        f"{SCHEMA_FILE}: {keyword} {ref} is not a reference inside "
        "this schema; refused (helm would load it from the bot's "
        "host)"
    )
    assert recorded.calls() == [] and canary.hits == []


def _pairs(node: Any) -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        out = []
        for key, value in node.items():
            out += [(key, value)] + _pairs(value)
        return out
    return [p for item in node for p in _pairs(item)] if isinstance(node, list) else []


def test_local_fragments_and_known_metaschemas_render_and_still_validate(
    tmp_path: Path, tools: Tools
) -> None:
    """References inside the document keep working, and helm still enforces the schema."""
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"x": {"$ref": "#/definitions/num"}, "y": {"$ref": "#/$defs/any"}},
        "definitions": {"num": {"type": "integer"}},
        "$defs": {"any": {}},
        "examples": [{"$ref": "not a reference, just data"}],
    }
    chart(tmp_path, schema)
    result = render_target(tmp_path, helm(), tools)
    assert result.ok, result.findings
    write_tree(tmp_path, {"charts/shop/values.yaml": "x: one\n"})
    bad = render_target(tmp_path, helm(), tools)
    assert not bad.ok and "want integer" in bad.findings[0].message


def _tgz(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_subchart_schemas_are_checked_in_folders_and_archives(
    tmp_path: Path, recorded: Recorded
) -> None:
    """Helm validates every subchart's schema too: vendored folders, archives and an
    archive inside an archive are all read before helm runs."""
    bad = json.dumps({"$ref": "file:///etc/hostname"})
    inner = _tgz({"deep/Chart.yaml": CHART.format("deep"), "deep/values.schema.json": bad})
    files: dict[str, str | bytes] = {
        "charts/shop/Chart.yaml": CHART.format("shop"),
        "charts/shop/templates/cm.yaml": CM,
        "charts/shop/values.yaml": "x: 1\n",
        "charts/shop/charts/folder/Chart.yaml": CHART.format("folder"),
        "charts/shop/charts/folder/values.schema.json": bad,
        "charts/shop/charts/packed-0.1.0.tgz": _tgz(
            {"packed/Chart.yaml": CHART.format("packed"), "packed/values.schema.json": bad}
        ),
        "charts/shop/charts/outer-0.1.0.tgz": b"",
    }
    outer = io.BytesIO()
    with tarfile.open(fileobj=outer, mode="w:gz") as tar:
        for name, data in (
            ("outer/Chart.yaml", CHART.format("outer").encode()),
            ("outer/charts/deep-0.1.0.tgz", inner),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    files["charts/shop/charts/outer-0.1.0.tgz"] = outer.getvalue()
    write_tree(tmp_path, files)
    result = render_target(tmp_path, helm(), recorded.tools)
    assert sorted(f.file or "" for f in result.findings) == [
        "charts/shop/charts/folder/values.schema.json",
        "charts/shop/charts/outer-0.1.0.tgz:outer/charts/deep-0.1.0.tgz:deep/values.schema.json",
        "charts/shop/charts/packed-0.1.0.tgz:packed/values.schema.json",
    ]
    assert all(
        "$ref file:///etc/hostname is not a reference inside this schema" in f.message
        for f in result.findings
    )
    assert recorded.calls() == []


@pytest.mark.parametrize(
    "text, why",
    [
        (
            '{"properties": {"x": {"$ref": "#/a", "$ref": "file:///etc/hostname"}}}',
            "duplicate key $ref",
        ),
        ('{"type": "object", "x": NaN}', "not strict JSON"),
        ("type: object\n", "not strict JSON"),
        (b'{"type": "object", "title": "caf\xe9"}', "not strict JSON"),
        ('\ufeff{"$ref": "file:///etc/hostname"}', "$ref file:///etc/hostname is not a reference"),
    ],
)
def test_schemas_python_and_helm_could_read_differently_are_refused(
    tmp_path: Path, recorded: Recorded, text: str | bytes, why: str
) -> None:
    """The check must see what helm sees: duplicate keys (helm keeps the last), NaN, YAML
    and bytes that are not UTF-8 are refused rather than checked by a reading helm might
    not share; a byte-order mark is skipped, as helm skips it."""
    chart(tmp_path, text)
    result = render_target(tmp_path, helm(), recorded.tools)
    (finding,) = result.findings
    assert finding.file == SCHEMA_FILE and why in finding.message
    assert recorded.calls() == []
