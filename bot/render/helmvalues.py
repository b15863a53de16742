"""The values an Argo CD Application or a Flux HelmRelease adds on top of a chart.

Argo CD runs `helm template` with the source's `valueFiles`, then its `values` /
`valuesObject` (one file; `valuesObject` wins when both are set), then `parameters` as
`--set` / `--set-string` (commas escaped unless the value is a `{...}` list), and
`--include-crds` unless `skipCrds`. Flux merges `valuesFrom` and `values` into one set
(done when the target is planned) and, with `chart.spec.valuesFiles`, replaces the chart's
own values.yaml by the merge of those files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.errors import BudgetExceeded, UserError
from bot.model import Finding, Severity, Target
from bot.render.sandbox import Budgets, read_limited, resolve_inside
from bot.render.yamlload import load_documents
from bot.repo import options
from bot.repo.options import deep_merge


def clean_set_value(value: str) -> str:
    """Argo CD's cleanSetParameters: escape commas (not already escaped) unless `{a,b}`."""
    if value.startswith("{") and value.endswith("}"):
        return value
    return re.sub(r"(?<!\\),", r"\\,", value)


def _chart_values(
    root: Path, chart_copy: Path, files: list[str], budgets: Budgets
) -> list[Finding]:
    merged: dict[str, Any] = {}
    for given in files:
        try:
            path = resolve_inside(root, given, "values file")
            data = read_limited(path, budgets.max_file_bytes, given)
        except (UserError, BudgetExceeded) as exc:
            return [Finding(Severity.ERROR, "render", str(exc), file=given)]
        except FileNotFoundError:
            return [
                Finding(Severity.ERROR, "render", f"values file {given} does not exist", file=given)
            ]
        docs, problems = load_documents(data, given, budgets)
        if problems:
            return problems
        if docs and isinstance(docs[0].data, dict):
            merged = deep_merge(merged, docs[0].data)
    (chart_copy / "values.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    return []


def layer_values(
    root: Path, target: Target, chart_copy: Path, tmp: Path, budgets: Budgets
) -> tuple[list[Path], list[str], bool] | list[Finding]:
    """(extra values files, extra helm arguments, include CRDs) or the findings that stop it."""
    helm = options.of(target).get("helm") or {}
    if helm.get("chart_values"):
        problems = _chart_values(root, chart_copy, [str(v) for v in helm["chart_values"]], budgets)
        if problems:
            return problems
    files: list[Path] = []
    text: str | None = None
    if isinstance(helm.get("values_object"), dict) and helm["values_object"]:
        text = yaml.safe_dump(helm["values_object"], sort_keys=False)
    elif isinstance(helm.get("values"), str) and helm["values"].strip():
        text = helm["values"]
    if text is not None:
        if len(text) > budgets.max_file_bytes:
            raise BudgetExceeded(f"inline values of {target.id} are too large")
        path = tmp / "gitops-bot-inline-values.yaml"
        path.write_text(text)
        files.append(path)
    args: list[str] = []
    for param in helm.get("parameters") or []:
        name, value = str(param.get("name") or ""), str(param.get("value") or "")
        if not name:
            continue
        flag = "--set-string" if param.get("forceString") else "--set"
        args += [flag, f"{name}={clean_set_value(value)}"]
    return files, args, not helm.get("skip_crds")
