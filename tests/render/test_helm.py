"""The helm renderer with the real helm: vendored charts only, offline, bounded."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from bot.model import Target
from bot.render import Budgets, render_target
from bot.tools import Tools
from tests.conftest import write_tree
from tests.render.conftest import Canary, Recorded, process_running_with

CHART = "apiVersion: v2\nname: {}\nversion: 0.1.0\n"
CM_TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
  namespace: {{ .Release.Namespace }}
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  replicas: {{ .Values.replicas | quote }}
"""
CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
"""


def helm(path: str = "charts/shop", values: tuple[str, ...] = (), **kw: str) -> Target:
    return Target(app="shop", environment="prod", renderer="helm", path=path, values=values, **kw)  # type: ignore[arg-type]


def chart(root: Path, path: str = "charts/shop", name: str = "shop", **extra: str) -> None:
    files = {
        f"{path}/Chart.yaml": CHART.format(name),
        f"{path}/values.yaml": "replicas: 1\n",
        f"{path}/templates/cm.yaml": CM_TEMPLATE,
    }
    files.update({f"{path}/{k}": v for k, v in extra.items()})
    write_tree(root, files)


def test_chart_renders_with_defaults_and_objects_map_to_templates(
    tmp_path: Path, tools: Tools
) -> None:
    chart(
        tmp_path,
        **{
            "crds/widget.yaml": CRD,
            "templates/two.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n"
            "  name: svc\n---\napiVersion: v1\nkind: Secret\n"
            "metadata:\n  name: sec\n",
        },
    )
    write_tree(tmp_path, {"env/prod/values.yaml": "replicas: 3\n"})
    result = render_target(
        tmp_path, helm(values=("env/prod/values.yaml",), kubernetes_version="1.31"), tools
    )
    assert result.findings == ()
    got = {(m.kind, m.key.namespace, m.key.name, m.file, m.line) for m in result.manifests}
    assert got == {
        (
            "CustomResourceDefinition",
            "",
            "widgets.example.com",
            "charts/shop/crds/widget.yaml",
            None,
        ),
        ("ConfigMap", "default", "shop-cm", "charts/shop/templates/cm.yaml", None),
        ("Service", "", "svc", "charts/shop/templates/two.yaml", None),
        ("Secret", "", "sec", "charts/shop/templates/two.yaml", None),
    }
    (cm,) = [m for m in result.manifests if m.kind == "ConfigMap"]
    assert cm.body["data"] == {"kube": "v1.31", "replicas": "3"}
    named = render_target(tmp_path, helm(release="web", namespace="shop-prod"), tools)
    (cm,) = [m for m in named.manifests if m.kind == "ConfigMap"]
    assert (cm.key.namespace, cm.key.name) == ("shop-prod", "web-cm")


def test_lookup_is_empty_and_dns_is_never_queried(tmp_path: Path, tools: Tools) -> None:
    chart(
        tmp_path,
        **{
            "templates/cm.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
data:
  secret: {{ lookup "v1" "Secret" "kube-system" "admin" | toJson | quote }}
  all: {{ lookup "v1" "Secret" "" "" | toJson | quote }}
  host: {{ getHostByName "localhost" | quote }}
"""
        },
    )
    result = render_target(tmp_path, helm(), tools)
    assert result.ok, result.findings
    assert result.manifests[0].body["data"] == {"secret": "{}", "all": "{}", "host": ""}


def test_dependency_not_vendored_is_refused_and_never_fetched(
    tmp_path: Path, tools: Tools, canary: Canary
) -> None:
    chart(
        tmp_path,
        **{
            "Chart.yaml": CHART.format("shop") + f"dependencies:\n- name: redis\n  version: 1.0.0\n"
            f"  repository: {canary.url}/charts\n"
        },
    )
    result = render_target(tmp_path, helm(), tools)
    assert not result.ok and result.manifests == ()
    (finding,) = result.findings
    assert finding.file == "charts/shop/Chart.yaml"
    assert finding.message == (
        "dependency redis is not vendored in charts/; the bot never runs helm dependency update"
    )
    assert canary.settled_hits() == []


def _tgz(name: str, files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_vendored_dependencies_render(tmp_path: Path, tools: Tools, canary: Canary) -> None:
    sub = {
        "Chart.yaml": CHART.format("redis"),
        "templates/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: redis\n",
    }
    chart(
        tmp_path,
        **{
            "Chart.yaml": CHART.format("shop") + f"dependencies:\n- name: redis\n  version: 0.1.0\n"
            f"  repository: {canary.url}\n- name: cache\n  version: 0.1.0\n"
            f"  repository: {canary.url}\n",
            **{f"charts/redis/{k}": v for k, v in sub.items()},
        },
    )
    (tmp_path / "charts/shop/charts/cache-0.1.0.tgz").write_bytes(
        _tgz(
            "cache",
            {
                "Chart.yaml": CHART.format("cache"),
                "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cache\n",
            },
        )
    )
    result = render_target(tmp_path, helm(), tools)
    assert result.ok, result.findings
    assert sorted((m.key.name, m.file) for m in result.manifests) == [
        ("cache", "charts/shop/charts/cache/templates/cm.yaml"),
        ("redis", "charts/shop/charts/redis/templates/svc.yaml"),
        ("shop-cm", "charts/shop/templates/cm.yaml"),
    ]
    assert canary.settled_hits() == []


class _Zeros(io.RawIOBase):
    """`size` zero bytes, produced as they are read (nothing held in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def test_vendored_archive_that_expands_1000_times_is_stopped(tmp_path: Path, tools: Tools) -> None:
    """docs/security.md#case-56: a vendored chart archive of ~120 KB expanding to 120 MiB
    stops at the 100 MiB decompressed-size cap; the render fails, quickly and in bounded memory."""
    chart(
        tmp_path,
        **{"Chart.yaml": CHART.format("shop") + "dependencies:\n- name: bomb\n  version: 0.1.0\n"},
    )
    archive = tmp_path / "charts/shop/charts/bomb-0.1.0.tgz"
    archive.parent.mkdir()
    big = 120 * 1024 * 1024
    with tarfile.open(archive, mode="w:gz", compresslevel=9) as tar:
        meta = CHART.format("bomb").encode()
        info = tarfile.TarInfo("bomb/Chart.yaml")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
        info = tarfile.TarInfo("bomb/files/zeros.bin")
        info.size = big
        tar.addfile(info, _Zeros(big))
    assert archive.stat().st_size * 800 < big
    started = time.monotonic()
    result = render_target(tmp_path, helm(), tools)
    assert time.monotonic() - started < 30
    assert not result.ok and result.manifests == ()
    (finding,) = result.findings
    # the sandbox unpacks archives itself (schema checks) with the same 100 MiB cap as helm
    assert finding.check == "render" and "unpacks to more than 104857600 bytes" in finding.message


def test_symlinked_chart_lock_is_refused(tmp_path: Path, tools: Tools) -> None:
    chart(tmp_path, **{"files/lock": "dependencies: []\n"})
    write_tree(tmp_path, {"rc": "export PS1=x\n"})
    os.symlink("files/lock", tmp_path / "charts/shop/Chart.lock")
    result = render_target(tmp_path, helm(), tools)
    assert not result.ok
    assert "Chart.lock is a symlink" in result.findings[0].message
    (tmp_path / "charts/shop/Chart.lock").unlink()
    os.symlink("../../rc", tmp_path / "charts/shop/Chart.lock")
    result = render_target(tmp_path, helm(), tools)
    assert [f.message for f in result.findings] == [
        "symlink charts/shop/Chart.lock -> ../../rc leaves the app charts/shop; refused"
    ]


@pytest.mark.parametrize(
    "given",
    ["../secret.yaml", "../../../../../../{tmp}/secret.yaml", "{tmp}/secret.yaml", "env/link.yaml"],
)
def test_values_outside_the_repository_are_refused_without_content(
    tmp_path: Path, tools: Tools, given: str
) -> None:
    write_tree(tmp_path, {"secret.yaml": "password: NEVER-SHOW-THIS\n"})
    repo = tmp_path / "repo"
    chart(repo)
    (repo / "env").mkdir()
    os.symlink(tmp_path / "secret.yaml", repo / "env/link.yaml")
    path = given.format(tmp=str(tmp_path).lstrip("/") if given.startswith("..") else tmp_path)
    result = render_target(repo, helm(values=(path,)), tools)
    assert not result.ok and result.manifests == ()
    (finding,) = result.findings
    assert finding.check == "sandbox"
    assert finding.message == f"values file {path} resolves outside the repository"
    assert "NEVER-SHOW-THIS" not in repr(result)


def test_chart_file_symlinked_out_of_the_repo_is_refused(tmp_path: Path, tools: Tools) -> None:
    write_tree(tmp_path, {"other-job/secret.yaml": "password: NEVER-SHOW-THIS\n"})
    repo = tmp_path / "repo"
    chart(
        repo,
        **{
            "templates/leak.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: leak\ndata:\n"
            '  x: {{ .Files.Get "stolen.yaml" | quote }}\n'
        },
    )
    os.symlink("../../../other-job/secret.yaml", repo / "charts/shop/stolen.yaml")
    result = render_target(repo, helm(), tools)
    assert not result.ok and result.findings[0].file == "charts/shop/stolen.yaml"
    assert "NEVER-SHOW-THIS" not in repr(result)


def test_endless_template_is_killed_at_the_deadline_with_no_leftover(
    tmp_path: Path, tools: Tools
) -> None:
    chart(
        tmp_path,
        path="charts/spin-7f3a",
        name="spin",
        **{
            "templates/spin.yaml": "{{- range until 100000 }}{{- range until 100000 }}"
            "{{- end }}{{- end }}\n"
        },
    )
    started = time.monotonic()
    result = render_target(
        tmp_path, helm(path="charts/spin-7f3a"), tools, Budgets(render_timeout=1.5)
    )
    assert time.monotonic() - started < 5
    assert [f.message for f in result.findings] == ["render timed out after 1.5s"]
    assert process_running_with("charts/spin-7f3a") == []


def test_output_cap(tmp_path: Path, tools: Tools) -> None:
    chart(
        tmp_path,
        **{
            "templates/big.yaml": "{{- range $i := until 2000 }}\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{{ $i }}\n"
            "{{- end }}\n"
        },
    )
    assert len(render_target(tmp_path, helm(), tools).manifests) == 2001
    result = render_target(tmp_path, helm(), tools, Budgets(max_render_bytes=10_000))
    assert [f.message for f in result.findings] == ["render output exceeded 10000 bytes"]


def test_helm_runs_with_clean_env_and_safe_argv(
    tmp_path: Path, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", "/root/.kube/config")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secretsecret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    chart(tmp_path)
    assert render_target(tmp_path, helm(), recorded.tools).ok
    (call,) = recorded.calls()
    assert call[1] == "template" and "--include-crds" in call
    for flag in (
        "--enable-dns",
        "--post-renderer",
        "--dependency-update",
        "--repo",
        "--kubeconfig",
        "--kube-apiserver",
        "--dry-run=server",
    ):
        assert flag not in call
    (env,) = recorded.environments()
    for leak in ("KUBECONFIG", "ghs_", "aws-secret"):
        assert leak not in env
    home = [line for line in env.splitlines() if line.startswith("HELM_CACHE_HOME=")]
    assert home and "gitops-bot-render-" in home[0]


def test_bad_names_and_template_errors_are_findings(tmp_path: Path, tools: Tools) -> None:
    chart(tmp_path)
    bad = render_target(tmp_path, helm(release="--post-renderer=/bin/sh"), tools)
    assert "release name" in bad.findings[0].message
    chart(tmp_path, **{"templates/fail.yaml": '{{ fail "values.x is required" }}\n'})
    result = render_target(tmp_path, helm(), tools)
    (finding,) = result.findings
    assert finding.check == "render" and "values.x is required" in finding.message
    assert str(tmp_path) not in finding.message
    missing = render_target(tmp_path, helm(path="charts/nope"), tools)
    assert "not a directory" in missing.findings[0].message
