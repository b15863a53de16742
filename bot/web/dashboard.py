"""The dashboard: server-rendered pages of reviews, deployments, drift and the audit trail.

Reports are stored as the Markdown the bot posts. They are rendered with markdown-it-py with
raw HTML allowed, because the bot writes <details>, <summary> and <code> itself, and the
result then goes through nh3 (the Ammonia sanitiser) with a short allowlist of tags,
attributes, classes and URL schemes. Escaping all HTML instead would print those tags as
text; trusting it would let text from a pull request that slipped past the report's own
escaping run script in a reader's browser. No page uses JavaScript, and the Content Security
Policy forbids it.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

import nh3
from flask import Blueprint, Response, abort, render_template
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from bot.chain import chain_of
from bot.redact import redact
from bot.outcomes import DEPLOY_STATES, REVIEW_STATES
from bot.web import services
from bot.web.api import (
    arg,
    clean,
    deployment_data,
    drift_data,
    int_arg,
    limit_arg,
    run_detail,
    run_summary,
)
from bot.web.auth import protect

bp = Blueprint("dashboard", __name__)
protect(bp, json=False)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

_TAGS = {
    "a",
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "details",
    "summary",
    "span",
}
_ATTRIBUTES = {"a": {"href", "title"}, "details": {"open"}, "ol": {"start"}}
_CLASSES = {
    "span": {"add", "del", "hunk"},
    "pre": {"diff"},
    "code": {"language-diff", "language-yaml", "language-json"},
    "th": {"al-left", "al-right", "al-center"},
    "td": {"al-left", "al-right", "al-center"},
}


def _diff_fence(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    lang = token.info.strip().split(" ")[0] if token.info else ""
    if lang != "diff":
        return str(self.__class__.fence(self, tokens, idx, options, env))
    lines = []
    for line in token.content.rstrip("\n").split("\n"):
        kind = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+") and not line.startswith("+++")
            else "del"
            if line.startswith("-") and not line.startswith("---")
            else None
        )
        text = html.escape(line, quote=False)
        lines.append(f'<span class="{kind}">{text}</span>' if kind else text)
    return '<pre class="diff"><code class="language-diff">' + "\n".join(lines) + "\n</code></pre>\n"


_md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_md.add_render_rule("fence", _diff_fence)


def render_report(markdown: str) -> Markup:
    """The stored Markdown report as sanitised HTML (see the module docstring)."""
    tokens = _md.parse(redact(markdown))
    for token in tokens:
        # Table alignment arrives as inline style, which the CSP blocks: use classes.
        style = token.attrGet("style") if token.type in ("th_open", "td_open") else None
        if isinstance(style, str) and style.startswith("text-align:"):
            del token.attrs["style"]
            token.attrSet("class", "al-" + style.removeprefix("text-align:").strip())
    rendered = _md.renderer.render(tokens, _md.options, {})
    safe = nh3.clean(
        rendered,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        allowed_classes=_CLASSES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return Markup(safe)  # noqa: S704 - sanitised by nh3 just above


def _finalize(value: Any) -> Any:
    # Belt and braces: whatever a template prints passes redact() once more.
    if isinstance(value, Markup):
        return Markup(redact(str(value)))  # noqa: S704 - masking only shortens tokens
    return redact(value) if isinstance(value, str) else value


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    app.jinja_options = {**app.jinja_options, "finalize": _finalize}


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def _error(exc: HTTPException) -> tuple[str, int]:
    code = exc.code or 500
    return render_template("error.html", code=code, name=exc.name, message=exc.description), code


def _page(template: str, **context: Any) -> str:
    return render_template(template, filters=clean(dict(_filters())), **context)


def _filters() -> dict[str, str]:
    names = ("repo", "state", "number", "environment", "actor", "action")
    return {name: value for name in names if (value := arg(name)) is not None}


@bp.get("/")
def reviews() -> str:
    """Recent reviews with their state; filters: repo, state, number."""
    runs = services().store.latest_runs(
        limit_arg(), repo=arg("repo"), state=arg("state"), number=int_arg("number")
    )
    return _page("reviews.html", runs=[run_summary(r) for r in runs], states=REVIEW_STATES)


@bp.get("/reviews/<host>/<path:repo>/<int:number>/<sha>")
def review(host: str, repo: str, number: int, sha: str) -> str:
    """The full report of one review."""
    run = services().store.find_run(host, repo, number, sha)
    if run is None:
        abort(404, description="no review of this change at this SHA")
    report = render_report(run.report) if run.report else None
    return _page("review.html", run=run_detail(run), report=report)


@bp.get("/deployments")
def deployments() -> str:
    """Deployments per environment, newest first, with their source changes."""
    found = services().store.deployments(
        limit_arg(200), repo=arg("repo"), environment=arg("environment")
    )
    by_env: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in found:
        by_env[d.environment].append(deployment_data(d))
    return _page("deployments.html", environments=sorted(by_env.items()), states=DEPLOY_STATES)


@bp.get("/drift")
def drift() -> str:
    """The newest drift report of every target."""
    reports = [drift_data(r) for r in services().store.latest_drift(repo=arg("repo"))]
    return _page("drift.html", reports=reports, drifted=sum(r["drifted"] for r in reports))


@bp.get("/audit")
def audit() -> str:
    """The audit trail; filters: actor, action, repo."""
    events = services().store.audit_log(
        limit_arg(200), actor=arg("actor"), action=arg("action"), repo=arg("repo")
    )
    return _page("audit.html", events=[clean(e) for e in events])


@bp.get("/chain/<host>/<path:repo>/<sha>")
def chain(host: str, repo: str, sha: str) -> str:
    """Who let a commit in: its deploys, back to its change, its review and the approvals,
    overrides and break-glass that counted (from the append-only audit records)."""
    records = [clean(r.to_dict()) for r in services().store.audit_records(host=host, repo=repo)]
    found = chain_of(sha, records)
    if not (found.deploys or found.reviews):
        abort(404, description="no deploy or review of this commit is recorded")
    return _page("chain.html", chain=found, host=host, repo=repo)
