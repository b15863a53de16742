"""The helm renderer: `helm template` offline on a chart vendored in the repository."""

from __future__ import annotations

import bisect
import os
import re
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from bot import proc
from bot.errors import BudgetExceeded, ToolError, UserError
from bot.model import Finding, Manifest, Severity, Target
from bot.render.appfiles import copy_app, walk_app
from bot.render.helmschema import schema_findings
from bot.render.helmvalues import layer_values
from bot.render.sandbox import (
    GO_RUNTIME,
    Budgets,
    Refused,
    output_budgets,
    private_dir,
    read_limited,
    repo_path,
    resolve_inside,
    tool_message,
)
from bot.render.yamlload import load_documents, load_manifests

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
KUBE_VERSION = re.compile(r"^v?\d+\.\d+(\.\d+)?$")
SOURCE = re.compile(rb"^# Source: (.+?)\s*$", re.MULTILINE)


def helm_argv(
    helm: str,
    release: str,
    chart: str | os.PathLike[str],
    namespace: str,
    values: list[Path],
    kube_version: str,
    extra: list[str] | None = None,
    include_crds: bool = True,
) -> list[str]:
    """The only helm command line: no DNS, no post-renderer, no dependency update.
    `extra` holds `--set` / `--set-string` arguments (Argo CD helm parameters)."""
    argv = [helm, "template", "--namespace", namespace, "--kube-version", kube_version]
    argv += ["--include-crds"] if include_crds else []
    argv += extra or []
    for path in values:
        argv += ["--values", os.fspath(path)]
    return [*argv, "--", release, os.fspath(chart)]


def _env(tmp: Path) -> dict[str, str]:
    dirs = {
        "HELM_CACHE_HOME": "cache",
        "HELM_CONFIG_HOME": "config",
        "HELM_DATA_HOME": "data",
        "HELM_PLUGINS": "plugins",
    }
    for sub in ("home", *dirs.values()):
        (tmp / sub).mkdir()
    extra = {**GO_RUNTIME, **{k: str(tmp / v) for k, v in dirs.items()}}
    extra["HELM_REPOSITORY_CONFIG"] = str(tmp / "config" / "repositories.yaml")
    extra["HELM_REGISTRY_CONFIG"] = str(tmp / "config" / "registry.json")
    return proc.clean_env(tmp / "home", extra=extra)


def _load(root: Path, path: Path, budgets: Budgets) -> tuple[Any, list[Finding]]:
    shown = repo_path(root, path)
    data = read_limited(path, budgets.max_file_bytes, shown)
    docs, findings = load_documents(data, shown, budgets)
    return (docs[0].data if docs else None), findings


def _vendored(charts: Path, budgets: Budgets, root: Path) -> set[str]:
    names: set[str] = set()
    if not charts.is_dir():
        return names
    for entry in charts.iterdir():
        if entry.is_dir() and (entry / "Chart.yaml").is_file():
            meta, _ = _load(root, entry / "Chart.yaml", budgets)
            names.add(str(meta.get("name")) if isinstance(meta, dict) else entry.name)
            names.add(entry.name)
        elif entry.is_file() and entry.name.endswith(".tgz"):
            names.add(re.sub(r"-v?\d+(\.\d+)*([-+][0-9A-Za-z.+-]*)?$", "", entry.name[:-4]))
    return names


def check_chart(root: Path, chart: Path, budgets: Budgets) -> list[Finding]:
    """Refusals for a chart whose links stay inside it: symlinked locks, dependencies not
    vendored, unloadable Chart.yaml / values.yaml."""
    findings = []
    chart_yaml = repo_path(root, chart / "Chart.yaml")
    lock = chart / "Chart.lock"
    if lock.is_symlink():
        findings.append(
            Finding(
                Severity.ERROR,
                "sandbox",
                "Chart.lock is a symlink; refused (the bot never runs helm dependency update)",
                file=repo_path(root, lock),
            )
        )
    if findings:
        return findings
    if not (chart / "Chart.yaml").is_file():
        return [
            Finding(
                Severity.ERROR,
                "render",
                f"no Chart.yaml in {repo_path(root, chart)}",
                file=chart_yaml,
            )
        ]
    meta, findings = _load(root, chart / "Chart.yaml", budgets)
    deps: list[Any] = []
    if isinstance(meta, dict) and isinstance(meta.get("dependencies"), list):
        deps += meta["dependencies"]
    if (chart / "requirements.yaml").is_file():  # apiVersion v1 charts
        req, problems = _load(root, chart / "requirements.yaml", budgets)
        findings += problems
        if isinstance(req, dict) and isinstance(req.get("dependencies"), list):
            deps += req["dependencies"]
    vendored = _vendored(chart / "charts", budgets, root)
    for dep in deps:
        name = str(dep.get("name")) if isinstance(dep, dict) else str(dep)
        if name not in vendored:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "render",
                    f"dependency {name} is not vendored in charts/; "
                    "the bot never runs helm dependency update",
                    file=chart_yaml,
                )
            )
    if (chart / "values.yaml").is_file():
        findings += _load(root, chart / "values.yaml", budgets)[1]
    return findings


def values_files(root: Path, target: Target, budgets: Budgets) -> tuple[list[Path], list[Finding]]:
    """Resolved values files (repo-relative in the target), each checked like a manifest."""
    paths: list[Path] = []
    findings: list[Finding] = []
    for given in target.values:
        try:
            path = resolve_inside(root, given, "values file")
            _, problems = _load(root, path, budgets)
        except (UserError, BudgetExceeded) as exc:  # never the file's content
            check = "sandbox" if isinstance(exc, Refused) else "render"
            findings.append(Finding(Severity.ERROR, check, str(exc), file=given))
            continue
        except FileNotFoundError:
            findings.append(
                Finding(Severity.ERROR, "render", f"values file {given} does not exist", file=given)
            )
            continue
        findings += problems
        paths.append(path)
    return paths, findings


def _source_file(chart: str, source: str) -> str:
    """`shop/templates/x.yaml` from helm's `# Source:` -> `<chart dir>/templates/x.yaml`."""
    parts = PurePosixPath(source).parts
    inner = PurePosixPath(*parts[1:]) if len(parts) > 1 else PurePosixPath(source)
    return (PurePosixPath(chart) / inner).as_posix().removeprefix("./")


def render_helm(
    root: Path, target: Target, helm: str, budgets: Budgets
) -> tuple[list[Manifest], list[Finding]]:
    """Check the chart and values, run `helm template` offline, map objects to templates."""
    root = root.resolve()
    chart = resolve_inside(root, target.path, "chart")
    release = target.release or target.app
    namespace = target.namespace or "default"
    for what, value, limit in (("release name", release, 53), ("namespace", namespace, 63)):
        if not NAME.match(value) or len(value) > limit:
            raise UserError(f"{what} {value!r} is not a valid Kubernetes name")
    if not KUBE_VERSION.match(target.kubernetes_version):
        raise UserError(f"kubernetes version {target.kubernetes_version!r} is not X.Y[.Z]")
    if not chart.is_dir():
        raise UserError(f"chart {target.path} is not a directory in the repository")
    tree = walk_app(root, chart)
    if tree.findings:
        return [], tree.findings
    if tree.size > budgets.max_app_bytes:
        raise BudgetExceeded(
            f"chart {tree.label} is too large ({tree.size} bytes, limit {budgets.max_app_bytes})"
        )
    findings = check_chart(root, chart, budgets)
    values, problems = values_files(root, target, budgets)
    findings += problems
    if any(f.severity is Severity.ERROR for f in findings):
        return [], findings
    real_root = root.resolve()
    with private_dir() as tmp:
        # helm sees a copy of the chart alone: no link out of it, no .git, nothing else
        copy = tmp / "chart" / (chart.name or "chart")
        copy.parent.mkdir()
        findings = copy_app(tree, copy) or schema_findings(copy, tree.label, budgets)
        if findings:
            return [], findings
        layered = layer_values(root, target, copy, tmp, budgets)
        if isinstance(layered, list):
            return [], layered
        extra_values, extra_args, include_crds = layered
        argv = helm_argv(
            helm,
            release,
            copy,
            namespace,
            values + extra_values,
            target.kubernetes_version,
            extra_args,
            include_crds,
        )
        try:
            done = proc.run(
                argv,
                cwd=tmp,
                env=_env(tmp),
                timeout=budgets.render_timeout,
                max_output=budgets.max_render_bytes,
                no_network=True,
            )
        except BudgetExceeded as exc:
            raise BudgetExceeded(
                f"render output exceeded {budgets.max_render_bytes} bytes"
            ) from exc
        except ToolError as exc:
            exc.stderr = tool_message(
                exc.stderr.replace(str(copy), tree.label), 2000, real_root, tmp
            )
            raise
    out = done.stdout
    marks: list[tuple[int, str]] = []
    line, pos = 1, 0
    for match in SOURCE.finditer(out):
        line += out.count(b"\n", pos, match.start())
        pos = match.start()
        marks.append((line, match.group(1).decode("utf-8", "replace")))
    lines = [at for at, _ in marks]
    shown = repo_path(real_root, chart)
    objs, problems = load_manifests(out, shown, output_budgets(budgets))

    def origin(line: int | None) -> str:
        at = bisect.bisect_right(lines, line or 0) - 1
        return _source_file(shown, marks[at][1]) if at >= 0 else shown

    manifests = [Manifest(body=o.body, file=origin(o.line)) for o in objs]
    findings = [replace(f, file=origin(f.line), line=None) for f in problems]
    return manifests, findings
