"""HTTP side of the bot: webhook intake and health endpoints (blueprints for `create_app`)."""

from __future__ import annotations

from flask import current_app

from bot.services import Services
from bot.web.backlog import Backlog

EXTENSION = "gitops_bot"
BACKLOG = "gitops_bot.backlog"


def services() -> Services:
    """The Services of the running app (set by `create_app`)."""
    found: Services = current_app.extensions[EXTENSION]
    return found


def queue_bound() -> Backlog:
    """The queue bound of the running app's process (set by `create_app`)."""
    found: Backlog = current_app.extensions[BACKLOG]
    return found
