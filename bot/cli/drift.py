"""`gitops-bot drift`: check (or show) drift between environments and their branches."""

from __future__ import annotations

import json
import sys

import click

from bot.config import Config
from bot.errors import GitopsBotError
from bot.store import Store


@click.command("drift")
@click.option("--repo", help="Repository to check, e.g. acme/shop (default: every deployed one).")
@click.option(
    "--forge", type=click.Choice(["github", "gitlab"]), default="github", show_default=True
)
@click.option("--env", "environment", help="Only this environment.")
@click.option("--show", is_flag=True, help="Show the last recorded drift; check nothing.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def drift_command(
    repo: str | None, forge: str, environment: str | None, show: bool, fmt: str
) -> None:
    """Compare each environment's live state with its protected branch (exit 1 on drift).

    Uses the service's configuration (GITOPS_BOT_* variables) and records what it finds in
    the service's store; environments with `self_heal: true` are re-deployed.
    """
    from bot.pipeline.drift import deployed_repos, drift_runner

    try:
        config = Config.load()
        store = Store.from_url(config.database)
        store.upgrade()
        if show:
            rows = [
                {
                    "repo": r.repo,
                    "environment": r.environment,
                    "target": r.target,
                    "at": r.at.isoformat(),
                    "healed": r.healed,
                    "objects": r.objects,
                }
                for r in store.latest_drift(repo)
            ]
        else:
            runner = drift_runner(config, store)
            todo = [(forge, config.forge_host(forge), repo)] if repo else deployed_repos(store)
            rows = []
            for forge_name, host, name in todo:
                for item in runner.run(forge_name, host, name, environment):
                    rows.append(
                        {
                            "repo": name,
                            "environment": item.environment,
                            "target": item.target,
                            "healed": item.healed,
                            "objects": item.as_records(),
                        }
                    )
    except GitopsBotError as exc:
        click.echo(f"gitops-bot: error: {exc}", err=True)
        sys.exit(2)
    drifted = [r for r in rows if r["objects"]]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
    elif not drifted:
        click.echo("no drift")
    for row in drifted if fmt == "text" else ():
        healed = " (healed)" if row["healed"] else ""
        click.echo(f"{row['repo']} {row['environment']} {row['target']}{healed}:")
        for obj in row["objects"]:
            fields = ", ".join(obj["changed_fields"]) or obj["status"]
            click.echo(f"  {obj['key']}: {fields}")
    sys.exit(1 if drifted and not all(r["healed"] for r in drifted) else 0)
