"""`gitops-bot apps`: what the bot will review in a repository, before any change.

One row per target (app x environment): renderer, path, values files, where the target came
from (`config` for apps written in `.gitops-bot.yaml`, `folders` for apps found from the
layout) and the files its render reads.
"""

from __future__ import annotations

import json
import posixpath
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import click

from bot.errors import GitopsBotError
from bot.model import Target
from bot.repo.kustomize_refs import KUSTOMIZATION_FILES
from bot.repo.repo_config import RepoConfig

EXIT_USAGE = 2
SHOWN_INPUTS = 5


def source_of(config: RepoConfig) -> str:
    """Where the apps of `config` came from."""
    return "folders" if config.discovered else "config"


def _shown(inputs: frozenset[str], files: Collection[str]) -> list[str]:
    """Inputs less the other names a kustomization file could have but does not."""
    return sorted(
        i
        for i in inputs
        if i in files
        or i.endswith("/")
        or i == ""
        or posixpath.basename(i) not in KUSTOMIZATION_FILES
    )


def rows(
    config: RepoConfig,
    targets: list[Target],
    inputs: Mapping[Target, frozenset[str]],
    files: Collection[str],
) -> list[dict[str, Any]]:
    """The JSON form: one mapping per target, inputs sorted."""
    return [
        {
            "app": t.app,
            "environment": t.environment,
            "renderer": t.renderer,
            "path": t.path,
            "values": list(t.values),
            "release": t.release,
            "namespace": t.namespace,
            "exclude": list(t.exclude),
            "source": source_of(config),
            "inputs": _shown(inputs[t], files),
        }
        for t in targets
    ]


def render_text(config: RepoConfig, table: list[dict[str, Any]], notes: list[str]) -> str:
    """A table a person reads: target, renderer, path, source; then what each reads."""
    apps = {row["app"] for row in table}
    lines = [
        f"{len(apps)} apps, {len(table)} targets; environments: "
        f"{', '.join(config.environment_names)}",
        *notes,
        "",
    ]
    header = ("TARGET", "RENDERER", "PATH", "SOURCE")
    cells = [
        (
            f"{r['app']}/{r['environment']}",
            r["renderer"],
            r["path"] + "".join(f" -f {v}" for v in r["values"]),
            r["source"],
        )
        for r in table
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(3)]
    for row, cell in zip([None, *table], [header, *cells], strict=True):
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=False)) + "  " + cell[3]
        )
        if row is not None:
            reads = [i or "(every file)" for i in row["inputs"]]
            more = f" and {len(reads) - SHOWN_INPUTS} more" if len(reads) > SHOWN_INPUTS else ""
            lines.append(f"    reads: {', '.join(reads[:SHOWN_INPUTS])}{more}")
    return "\n".join(lines).rstrip() + "\n"


@click.command("apps")
@click.argument("repo", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option(
    "--rev", help="Read this revision of the Git repository instead of the files as they stand."
)
@click.option("--env", "environment", help="Only this environment.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def apps(repo: Path, rev: str | None, environment: str | None, fmt: str) -> None:
    """List the apps, environments and renderers the bot finds in REPO, and what each reads."""
    from bot import gitrepo
    from bot.pipeline.review import load_config
    from bot.repo.kustomize_refs import RepoIndex
    from bot.repo.targets import expand_targets, target_inputs

    try:
        if not repo.is_dir():
            raise GitopsBotError(f"{repo} is not a directory")
        snapshot: gitrepo.Snapshot = (
            gitrepo.GitSnapshot(repo, gitrepo.rev_parse(repo, rev))
            if rev
            else gitrepo.WorktreeSnapshot(repo)
        )
        try:
            config, notes = load_config(gitrepo.EmptySnapshot(), snapshot)
            files = RepoIndex(snapshot.files)
            targets = expand_targets(config, files, snapshot.read, environment)
            inputs = {t: target_inputs(t, files, snapshot.read) for t in targets}
        finally:
            snapshot.close()
    except GitopsBotError as exc:
        click.echo(f"gitops-bot: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    table = rows(config, targets, inputs, files)
    if fmt == "json":
        click.echo(
            json.dumps(
                {"environments": list(config.environment_names), "targets": table, "notes": notes},
                indent=2,
            )
        )
    else:
        click.echo(render_text(config, table, notes), nl=False)
