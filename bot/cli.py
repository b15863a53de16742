"""Command line: `gitops-bot check`, and later serve / web / worker / policy test."""
from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="gitops-bot")
def main() -> None:
    """gitops-bot: review and deploy Kubernetes changes from Git."""


from bot.cli_check import check  # noqa: E402  (commands register after the group exists)

main.add_command(check)

from bot.cli_service import register as _register_service  # noqa: E402

_register_service(main)

from bot.policy.cli import policy_group  # noqa: E402

main.add_command(policy_group)

from bot.doctor import doctor  # noqa: E402

main.add_command(doctor)

from bot.cli_drift import drift_command  # noqa: E402

main.add_command(drift_command)
