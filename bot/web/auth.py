"""Read access to the dashboard and the JSON API.

The embedded default is one shared token (GITOPS_BOT_DASHBOARD_TOKEN), sent as
`Authorization: Bearer <token>` or as the password of HTTP basic auth (any user name), and
compared in constant time. With no token the dashboard and API answer 404, unless
GITOPS_BOT_DASHBOARD_PUBLIC=true opens them to everyone.

Seam for forge login (not built yet): an authenticator is a function of the request and the
config that returns who is reading, or None. A forge OAuth login would add one that reads a
signed session cookie (set by its own /login and /oauth/callback views) to AUTHENTICATORS;
nothing else here changes.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from flask import Blueprint, Request, Response, g, jsonify, request

from bot.config import Config, Secret
from bot.web import services

Authenticator = Callable[[Request, Config], str | None]


def token_matches(req: Request, token: Secret) -> bool:
    """The request carries `token` as a bearer token or a basic-auth password."""
    auth = req.authorization
    if auth is None:
        return False
    given = auth.token if auth.type == "bearer" else auth.password if auth.type == "basic" else None
    if not given:
        return False
    # Bytes on both sides: compare_digest refuses non-ASCII str, and headers may hold any.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), token.reveal().encode("utf-8")
    )


def token_reader(req: Request, config: Config) -> str | None:
    """The shared dashboard token: the reader is "token" when it matches."""
    token = config.dashboard_token
    if token is not None and token.reveal() and token_matches(req, token):
        return "token"
    return None


AUTHENTICATORS: tuple[Authenticator, ...] = (token_reader,)

DASHBOARD_OFF = (
    "gitops-bot: the dashboard is off.\n\n"
    "To enable it, set GITOPS_BOT_DASHBOARD_TOKEN to a long random token (readers "
    "send it as a bearer token or as the basic-auth password), or set "
    "GITOPS_BOT_DASHBOARD_PUBLIC=true to let anyone who can reach this address "
    "read it. Webhooks (/hooks/...), /healthz, /readyz and /metrics are served "
    "either way.\n"
)


def dashboard_enabled(config: Config) -> bool:
    """Whether the dashboard and API exist at all (a token is set, or they are public)."""
    return (
        bool(config.dashboard_token and config.dashboard_token.reveal()) or config.dashboard_public
    )


def _refuse(json: bool) -> Response:
    challenge = {"WWW-Authenticate": 'Basic realm="gitops-bot", charset="UTF-8"'}
    if json:
        response = jsonify(status="error", error="authentication required")
    else:
        response = Response(
            "Authentication required: use the dashboard token as the password.\n",
            mimetype="text/plain",
        )
    response.status_code = 401
    response.headers.update(challenge)
    return response


def protect(bp: Blueprint, *, json: bool) -> None:
    """Require a reader on every view of `bp` (404 while the dashboard is off)."""

    @bp.before_request
    def _require_reader() -> Response | None:
        config = services().config
        if not dashboard_enabled(config):
            if not json and request.path == "/":
                # The front page says how to turn the dashboard on (and nothing else).
                response = Response(DASHBOARD_OFF, mimetype="text/plain")
            else:
                response = jsonify(status="error", error="not found")
            response.status_code = 404
            return response
        for authenticate in AUTHENTICATORS:
            reader = authenticate(request, config)
            if reader is not None:
                g.reader = reader
                return None
        if config.dashboard_token and config.dashboard_token.reveal():
            return _refuse(json)
        g.reader = "public"  # no token configured and GITOPS_BOT_DASHBOARD_PUBLIC=true
        return None
