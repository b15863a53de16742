"""Argo CD's value layering on a vendored chart renders what `helm template` renders with the
command line Argo CD's repo server builds; Argo CD directory apps read files as it does."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from bot.model import Target
from bot.render import render_target
from bot.render.argocd_dir import glob_match
from bot.render.helmvalues import clean_set_value
from bot.repo import options
from bot.tools import Tools
from tests.conftest import write_tree

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "chart/values.yaml": "replicas: 1\nimage: {tag: '1.0'}\nlabels: {}\nhosts: []\nmsg: base\n",
    "chart/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n"
        "  namespace: {{ .Release.Namespace }}\n"
        "data:\n  replicas: {{ .Values.replicas | quote }}\n"
        "  tag: {{ .Values.image.tag | quote }}\n"
        '  msg: {{ .Values.msg | quote }}\n  hosts: {{ join ";" .Values.hosts | quote }}\n'
        "  labels: {{ toJson .Values.labels | quote }}\n"
    ),
    "envs/prod.yaml": "replicas: 2\nmsg: from values file\n",
}


def helm(tools: Tools, root: Path, args: list[str]) -> list[Any]:
    assert tools.helm
    out = subprocess.run(
        [tools.helm, "template", *args, str(root / "chart")],
        check=True,
        capture_output=True,
        text=True,
        cwd=root,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_argocd_value_layering_is_what_helm_renders(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, CHART)
    opts = {
        "helm": {
            "values": "msg: inline\nimage: {tag: '2.0'}\n",
            "parameters": [
                {"name": "hosts", "value": "{a.example,b.example}"},
                {"name": "labels.team", "value": "x,y"},
                {"name": "image.tag", "value": "3.0", "forceString": True},
            ],
        }
    }
    target = Target(
        app="demo",
        environment="prod",
        renderer="helm",
        path="chart",
        values=("envs/prod.yaml",),
        release="rel",
        namespace="apps",
        options=options.encode(opts),
    )
    result = render_target(tmp_path, target, tools)
    assert result.ok, result.findings
    (tmp_path / "inline.yaml").write_text("msg: inline\nimage: {tag: '2.0'}\n")
    expected = helm(
        tools,
        tmp_path,
        [
            "rel",
            "--namespace",
            "apps",
            "--kube-version",
            "1.35",
            "--set",
            "hosts={a.example,b.example}",
            "--set",
            r"labels.team=x\,y",
            "--set-string",
            "image.tag=3.0",
            "--values",
            "envs/prod.yaml",
            "--values",
            "inline.yaml",
            "--include-crds",
        ],
    )
    assert [m.body for m in result.manifests] == expected
    assert expected[0]["data"] == {
        "replicas": "2",
        "tag": "3.0",
        "msg": "inline",
        "hosts": "a.example;b.example",
        "labels": '{"team":"x,y"}',
    }


def test_values_object_wins_over_values_text(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, CHART)
    opts = {"helm": {"values": "msg: text\n", "values_object": {"msg": "object"}}}
    target = Target(
        app="demo", environment="e", renderer="helm", path="chart", options=options.encode(opts)
    )
    result = render_target(tmp_path, target, tools)
    assert result.manifests[0].body["data"]["msg"] == "object"


def test_flux_values_files_replace_the_chart_values(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, {**CHART, "envs/image.yaml": "image: {tag: '9.9'}\n"})
    opts = {
        "helm": {
            "chart_values": ["envs/prod.yaml", "envs/image.yaml"],
            "values_object": {"msg": "release"},
        }
    }
    target = Target(
        app="demo", environment="e", renderer="helm", path="chart", options=options.encode(opts)
    )
    result = render_target(tmp_path, target, tools)
    assert result.ok, result.findings
    data = result.manifests[0].body["data"]
    # the chart's values.yaml is not a layer any more (its `labels: {}` is gone)
    assert data == {"replicas": "2", "tag": "9.9", "msg": "release", "hosts": "", "labels": "null"}


def test_comma_escaping_follows_argocd() -> None:
    assert clean_set_value("a,b") == r"a\,b"
    assert clean_set_value(r"a\,b") == r"a\,b"
    assert clean_set_value("{a,b}") == "{a,b}"


DIR = {
    "app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    "app/b.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}',
    "app/values.yaml": "replicas: 2\n",
    "app/skip.yaml": "# +argocd:skip-file-rendering\napiVersion: v1\nkind: ConfigMap\n"
    "metadata: {name: skipped}\n",
    "app/sub/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    "app/sub/d.yml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n",
}


def directory(recurse: bool = False, include: str = "", exclude: str = "") -> Target:
    return Target(
        app="a",
        environment="e",
        renderer="plain",
        path="app",
        options=options.encode(
            {"directory": {"recurse": recurse, "include": include, "exclude": exclude}}
        ),
    )


def names(tmp_path: Path, target: Target, tools: Tools) -> list[str]:
    result = render_target(tmp_path, target, tools)
    assert result.ok, result.findings
    return sorted(m.key.name for m in result.manifests)


def test_argocd_directory_apps(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, DIR)
    assert names(tmp_path, directory(), tools) == ["a", "b"]  # not recursive, json read
    assert names(tmp_path, directory(recurse=True), tools) == ["a", "b", "c", "d"]
    assert names(tmp_path, directory(True, include="{*.yml,sub/c.yaml}"), tools) == ["c", "d"]
    assert names(tmp_path, directory(True, exclude="sub/*"), tools) == ["a", "b"]


def test_argocd_glob() -> None:
    assert glob_match("*.yaml", "sub/x.yaml") and glob_match("{a,b}/*", "b/x")
    assert not glob_match("*.yml", "x.yaml") and glob_match("[!x]*", "y")
