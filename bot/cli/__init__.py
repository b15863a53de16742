"""Command line: `gitops-bot check`, `apps`, the service commands, `drift`, `doctor`,
`policy test`, `audit`.

Each command lives in its own module here and imports what it needs lazily, so `--help` and
`check` do not pay for the service's libraries (PyGithub alone costs 160 ms).
"""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="gitops-bot")
def main() -> None:
    """gitops-bot: review and deploy Kubernetes changes from Git."""


# Commands register after the group exists. Aliased imports keep `bot.cli.check` & co. the
# modules (a plain `from bot.cli.check import check` would shadow the module by the command).
from bot.cli.apps import apps as _apps  # noqa: E402
from bot.cli.audit import audit_command as _audit  # noqa: E402
from bot.cli.check import check as _check  # noqa: E402
from bot.cli.doctor import doctor as _doctor  # noqa: E402
from bot.cli.drift import drift_command as _drift  # noqa: E402
from bot.cli.policy import policy_group as _policy  # noqa: E402
from bot.cli.service import register as _register_service  # noqa: E402

main.add_command(_check)
main.add_command(_apps)
_register_service(main)
main.add_command(_policy)
main.add_command(_doctor)
main.add_command(_drift)
main.add_command(_audit)
