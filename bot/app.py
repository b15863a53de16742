"""The Flask application factory: `create_app(config, services)`."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from bot.config import Config
from bot.services import Services
from bot.web import BACKLOG, EXTENSION, api, dashboard, health, hooks, metrics
from bot.web.backlog import Backlog


def create_app(config: Config, services: Services | None = None) -> Flask:
    """A Flask app serving the webhook intake, health, metrics, the dashboard and its API.

    Refuses to build (ConfigError) when the config would accept unsigned or unscoped
    deliveries. Without `services`, opens the store (running migrations) and the queue.
    """
    config.check_service()
    if services is None:
        services = Services.build(config)
    app = Flask("bot")
    # Werkzeug enforces this on every body read, chunked ones included. It silently stops at
    # the limit, so allow one byte more and let the intake see (and refuse) a longer body.
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes + 1
    app.extensions[EXTENSION] = services
    app.extensions[BACKLOG] = Backlog(services.store.pending_jobs, config.queue_max)
    app.register_blueprint(hooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(dashboard.bp)  # read access: bot.web.auth
    app.register_blueprint(api.bp)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return jsonify(status="error", error=exc.description), exc.code or 500

    return app
