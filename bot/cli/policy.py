"""`gitops-bot policy ...` commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("policy")
def policy_group() -> None:
    """Work with Rego policies."""


@policy_group.command("test")
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("policies")
)
@click.option("-v", "--verbose", is_flag=True, help="List passing tests too.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--coverage", is_flag=True, help="Report coverage (not available: regopy has no coverage API)."
)
def test_command(directory: Path, verbose: bool, fmt: str, coverage: bool) -> None:
    """Run every test_* rule under DIRECTORY (default: policies/), like `opa test`.

    Exit code 0 when all tests pass, 1 when a test fails or errors, the policies do not
    compile or there are no tests, 2 for usage errors.
    """
    from bot.config import drop_credentials
    from bot.policy.testing import format_json, format_text, run_policy_tests

    drop_credentials()  # CI runs this on pull request content, next to its tokens

    if not directory.is_dir():
        raise click.UsageError(f"{directory} is not a directory")
    if coverage:
        click.echo(
            "coverage: not available with the embedded engine (regopy 1.5.2 has no "
            "coverage API); use `opa test --coverage` where OPA is installed",
            err=True,
        )
    report = run_policy_tests(directory)
    text = format_json(report) if fmt == "json" else format_text(report, directory, verbose=verbose)
    click.echo(text, nl=False)
    sys.exit(0 if report.ok else 1)
