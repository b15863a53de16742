"""HTTP side of the bot: webhook intake and health endpoints (blueprints for `create_app`)."""
from __future__ import annotations

from flask import current_app

from bot.services import Services

EXTENSION = "gitops_bot"


def services() -> Services:
    """The Services of the running app (set by `create_app`)."""
    found: Services = current_app.extensions[EXTENSION]
    return found
