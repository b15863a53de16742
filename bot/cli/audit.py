"""`gitops-bot audit`: the append-only audit records of a repository — who let what in."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone

import click

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """`7d`, `12h`, `30m`, `2w`, or an ISO 8601 date / time (UTC when no zone is given)."""
    found = _RELATIVE.match(text.strip())
    if found:
        return now - timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: expected e.g. 7d, 12h or 2024-05-01T10:00:00Z", param_hint="--since"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@click.command("audit")
@click.option(
    "--repo",
    required=True,
    help="Repository: owner/name, or host/owner/name (e.g. github.com/acme/shop).",
)
@click.option("--since", help="Only records since: 7d, 12h, 30m, or an ISO date/time.")
@click.option(
    "--sha",
    help="The chain of one deployed commit: its deploys, the review that "
    "let it in, the approvals, overrides and break-glass.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def audit_command(repo: str, since: str | None, sha: str | None, fmt: str) -> None:
    """Approvals counted, overrides, break-glass, review verdicts (with policy revisions)
    and deploys (source SHA, reviewed SHA, approvers), oldest first, from the service's
    store (GITOPS_BOT_* settings)."""
    from bot.chain import chain_of, describe
    from bot.config import Config
    from bot.errors import GitopsBotError
    from bot.store import Store

    start = parse_since(since, datetime.now(timezone.utc)) if since else None
    try:
        store = Store.from_url(Config.load().database)
        store.upgrade()
        records = [r.to_dict() for r in store.audit_records(repo=repo, since=start)]
    except GitopsBotError as exc:
        click.echo(f"gitops-bot: error: {exc}", err=True)
        sys.exit(2)
    if sha:
        chain = chain_of(sha, records)
        shown = [*chain.deploys, *chain.reviews, *chain.approvals, *chain.governance]
        if fmt == "json":
            click.echo(
                json.dumps(
                    {
                        "sha": sha,
                        "reviewed_sha": chain.reviewed_sha,
                        "changes": list(chain.changes),
                        "complete": chain.complete,
                        "records": shown,
                    },
                    indent=2,
                    default=str,
                )
            )
        else:
            click.echo(
                f"{sha[:12]}: reviewed at {(chain.reviewed_sha or '-')[:12]}, changes "
                f"{', '.join(f'#{n}' for n in chain.changes) or '-'}"
            )
            for record in shown:
                click.echo(describe(record))
        sys.exit(0 if chain.complete else 1)
    if fmt == "json":
        click.echo(json.dumps(records, indent=2, default=str))
    else:
        for record in records:
            click.echo(describe(record))
