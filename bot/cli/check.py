"""`gitops-bot check`: review a change in a local Git repository, or a tree as it stands."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot import gitrepo
from bot.config import drop_credentials
from bot.decide import review_outcome
from bot.outcomes import EXIT_STATUS
from bot.errors import GitopsBotError, ToolMissing, UserError
from bot.model import ReviewResult
from bot.pipeline.policies import DEFAULT_SERVER_POLICIES
from bot.pipeline.change import review_change
from bot.pipeline.review import ReviewOptions, review_worktree
from bot.policy import ENGINES, Review, make_engine
from bot.report import GITHUB_COMMENT_LIMIT, render_json, render_markdown
from bot.tools import Tools

EXIT_USAGE = 2
FORMATS = ["markdown", "json", "sarif", "junit", "codequality"]


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gitops-bot" / "render"


@click.command("check")
@click.argument("repo", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--base", help="Base revision (the protected branch side of the change).")
@click.option("--head", help="Head revision (the proposed change). Defaults to HEAD with --base.")
@click.option("--env", "environment", help="Review only this environment.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="markdown",
    show_default=True,
    help="markdown (the review comment), json, sarif (SARIF 2.1.0 for code scanning), "
    "junit (JUnit XML) or codequality (GitLab's Code Quality report).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here instead of standard output.",
)
@click.option(
    "--full-report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the untruncated Markdown report goes when the comment-sized one "
    "had to be cut (default: beside --output, or the cache folder).",
)
@click.option(
    "--max-chars",
    type=int,
    default=GITHUB_COMMENT_LIMIT,
    show_default=True,
    help="Size limit of the Markdown report (GitHub comments hold 65,536).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Render cache folder (default: ~/.cache/gitops-bot/render).",
)
@click.option("--no-cache", is_flag=True, help="Render everything again.")
@click.option("--tools-dir", type=click.Path(file_okay=False), help="Where helm/kubectl are.")
@click.option(
    "--validator",
    type=click.Choice(["auto", "embedded", "kubeconform"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--jobs", type=int, default=4, show_default=True, help="Targets rendered in parallel."
)
@click.option(
    "--policies",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The server's policy folder (default: the bot's own policies/).",
)
@click.option(
    "--no-server-policies", is_flag=True, help="Evaluate only the repository's own policies."
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="embedded",
    show_default=True,
    help="Policy engine: regopy in this process, or an OPA server (--opa-url).",
)
@click.option(
    "--opa-url",
    help="The OPA server for --engine opa, e.g. http://localhost:8181 "
    "(a bearer token is read from GITOPS_BOT_OPA_TOKEN).",
)
@click.option(
    "--approved-by",
    "approved_by",
    multiple=True,
    metavar="USER[:GROUP,...]",
    help="An approval of HEAD, as the forge would report it: the user and the "
    "teams they belong to (repeatable), e.g. --approved-by carol:platform.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on standard error.")
def check(
    repo: Path,
    base: str | None,
    head: str | None,
    environment: str | None,
    fmt: str,
    output: Path | None,
    full_report: Path | None,
    max_chars: int,
    cache_dir: Path | None,
    no_cache: bool,
    tools_dir: str | None,
    validator: str,
    jobs: int,
    policies: Path | None,
    no_server_policies: bool,
    engine: str,
    opa_url: str | None,
    approved_by: tuple[str, ...],
    quiet: bool,
) -> None:
    """Review what merging HEAD into BASE does in REPO (or REPO's files as they stand).

    The rules (.gitops-bot.yaml, policies, CRD folders) come from BASE; the change is HEAD
    merged into BASE, so commits BASE gained since the branch was cut are not part of it.

    Exit status: 0 every target passes (and the approvals the policies require are given),
    1 a check fails, 2 usage or configuration error, 3 the checks pass but approvals the
    policies require are missing ("needs approval"; give them with --approved-by).
    """

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"gitops-bot: {message}", err=True)

    if head and not base:
        raise click.UsageError("--head needs --base")
    if (engine == "opa") != bool(opa_url):
        raise click.UsageError("--engine opa needs --opa-url (and --opa-url needs --engine opa)")
    opa_token = os.environ.get("GITOPS_BOT_OPA_TOKEN") or None  # read before it is dropped
    # CI systems put their tokens in the environment; a review needs none of them.
    drop_credentials()
    try:
        tools = Tools.discover(tools_dir=tools_dir)
        options = ReviewOptions(
            tools=tools,
            environment=environment,
            cache_dir=None if no_cache else (cache_dir or _default_cache_dir()),
            parallelism=jobs,
            validator=validator,
            progress=progress,
            server_policies=None if no_server_policies else (policies or DEFAULT_SERVER_POLICIES),
            enforce_approvals=bool(base),
            policy_engine=make_engine(engine, opa_url or "", opa_token),
        )
        if base:
            head_sha = gitrepo.rev_parse(repo, head or "HEAD")
            reviews = tuple(_approval(text, head_sha) for text in approved_by)
            options = dataclasses.replace(options, reviews=reviews)
            result = review_change(repo, base, head_sha, options)
        else:
            result = review_worktree(repo, options)
    except (UserError, ToolMissing) as exc:
        click.echo(f"gitops-bot: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except GitopsBotError as exc:
        click.echo(f"gitops-bot: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    _emit(result, fmt, output, full_report, max_chars, options.cache_dir, progress)
    sys.exit(EXIT_STATUS[review_outcome(result)])


def _approval(text: str, head_sha: str) -> Review:
    """`--approved-by user[:group,...]` as an approving review of the head."""
    user, _, groups = text.partition(":")
    teams = tuple(g.strip() for g in groups.split(",") if g.strip())
    if not user.strip():
        raise click.BadParameter(f"{text!r}: expected USER[:GROUP,...]", param_hint="--approved-by")
    return Review(user.strip(), "APPROVED", head_sha, teams)


def _ci_report(result: ReviewResult, fmt: str) -> str:
    """The report in a CI system's format (bot.formats)."""
    if fmt == "junit":
        from bot.formats.junit import render_junit

        return render_junit(result)
    if fmt == "sarif":
        from importlib.metadata import version

        from bot.formats.sarif import render_sarif

        return json.dumps(render_sarif(result, version("gitops-bot")), indent=2) + "\n"
    from bot.formats.codequality import render_codequality

    return json.dumps(render_codequality(result), indent=2) + "\n"


def _emit(
    result: ReviewResult,
    fmt: str,
    output: Path | None,
    full_report: Path | None,
    max_chars: int,
    cache_dir: Path | None,
    progress: Callable[[str], None],
) -> None:
    if fmt == "json":
        text = json.dumps(render_json(result), indent=2, sort_keys=True) + "\n"
    elif fmt in ("sarif", "junit", "codequality"):
        text = _ci_report(result, fmt)
    else:
        full = render_markdown(result, max_chars=10**12)
        if len(full) <= max_chars:
            text = full
        else:
            where = full_report or (
                output.with_suffix(".full.md")
                if output
                else (cache_dir or Path(".")).parent / "last-full-report.md"
            )
            where.parent.mkdir(parents=True, exist_ok=True)
            where.write_text(full)
            progress(f"report cut to {max_chars} characters; full report: {where}")
            text = render_markdown(result, max_chars=max_chars, full_report_url=str(where))
    if output:
        output.write_text(text)
        progress(f"report written to {output}")
    else:
        click.echo(text, nl=False)
