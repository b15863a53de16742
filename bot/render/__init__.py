"""Rendering a target to Kubernetes objects: plain YAML, kustomize or helm, in a sandbox."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from bot.errors import BudgetExceeded, GitopsBotError, ToolError
from bot.model import NOT_RENDERED, Finding, Manifest, RenderResult, Severity, Target
from bot.render.argocd_dir import render_directory
from bot.render.helm import render_helm
from bot.render.overlay import render_edited
from bot.render.plain import render_plain
from bot.render.sandbox import (
    Budgets,
    Refused,
    cannot_read,
    repo_path,
    resolve_inside,
    scan_checkout,
)
from bot.repo import options
from bot.tools import Tools

__all__ = ["Budgets", "render_target", "resolve_inside", "scan_checkout"]

DEFAULT_BUDGETS = Budgets()
# Renders run in parallel, but at most cores + 1 renderer processes at a time: more only
# share the same cores (and each helm or kubectl needs ~45 MB).
TOOL_SLOTS = threading.BoundedSemaphore((os.cpu_count() or 1) + 1)


def _shown(root: Path, filename: object) -> str:
    if not isinstance(filename, str):
        return ""
    return repo_path(root.resolve(), Path(filename))


def _tool_finding(exc: ToolError, target: Target, budgets: Budgets) -> Finding:
    if exc.timed_out:
        message = f"render timed out after {budgets.render_timeout:g}s"
    else:
        message = f"{target.renderer} failed: {exc}"
        if exc.stderr.strip():
            message += f"\n{exc.stderr.strip()}"
    return Finding(Severity.ERROR, "render", message, file=target.path)


def not_rendered(target: Target) -> Finding:
    """The warning a `remote` target gets: what it deploys and why the bot cannot render it."""
    remote = options.of(target).get("remote") or {}
    url, reason = str(remote.get("url") or ""), str(remote.get("reason") or "")
    what = f"remote source {url}" if url else "source outside this repository"
    return Finding(
        Severity.WARNING,
        "render",
        f"{NOT_RENDERED} {what}"
        + (f" ({reason})" if reason else "")
        + f"; declared by {target.origin}",
        file=target.path,
    )


HELM_HOOK = "helm.sh/hook"


def is_helm_hook(manifest: Manifest) -> bool:
    """Whether Helm runs this object as a hook (install/upgrade hooks, `helm test` pods):
    it is not part of the release, so by default it is not reviewed as one of its objects
    (test pods often have random names and would show as new objects on every change)."""
    meta = manifest.body.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return isinstance(annotations, dict) and bool(annotations.get(HELM_HOOK))


def render_target(
    root: Path, target: Target, tools: Tools, budgets: Budgets = DEFAULT_BUDGETS
) -> RenderResult:
    """Render one target; every refusal or tool failure is an ERROR finding, never a raise."""
    root = Path(root).resolve()
    manifests: list[Manifest] = []
    findings: list[Finding] = []
    try:
        if target.renderer == "remote":
            findings = [not_rendered(target)]
        elif target.renderer == "plain" and "directory" in options.of(target):
            manifests, findings = render_directory(root, target, budgets)
        elif target.renderer == "plain":
            manifests, findings = render_plain(root, target, budgets)
        elif target.renderer == "kustomize":
            with TOOL_SLOTS:
                manifests, findings = render_edited(root, target, tools.require("kubectl"), budgets)
        elif target.renderer == "helm":
            with TOOL_SLOTS:
                manifests, findings = render_helm(root, target, tools.require("helm"), budgets)
            if not target.helm_hooks:
                manifests = [m for m in manifests if not is_helm_hook(m)]
        else:
            findings = [
                Finding(
                    Severity.ERROR,
                    "render",
                    f"unknown renderer {target.renderer!r}",
                    file=target.path,
                )
            ]
    except ToolError as exc:
        findings = [_tool_finding(exc, target, budgets)]
    except Refused as exc:
        findings = [Finding(Severity.ERROR, "sandbox", str(exc), file=target.path)]
    except (BudgetExceeded, GitopsBotError) as exc:
        findings = [Finding(Severity.ERROR, "render", str(exc), file=target.path)]
    except OSError as exc:  # unreadable files: name them, nothing more
        shown = _shown(root, exc.filename) or target.path
        findings = [Finding(Severity.ERROR, "render", cannot_read(shown, exc), file=shown)]
    if any(f.severity is Severity.ERROR for f in findings):
        manifests = []
    return RenderResult(target, tuple(manifests), tuple(findings))
