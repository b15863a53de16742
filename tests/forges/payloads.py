"""Real webhook payload examples (copies under tests/fixtures) and fake credentials."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parents[1] / "fixtures"
GH_HOOKS = FIXTURES / "github" / "webhooks" / "payload-examples"
GL_HOOKS = FIXTURES / "gitlab" / "webhooks" / "payload-examples"
GH_TOKEN = "ghp_" + "T0kenValue" * 4  # shape of a classic PAT; fake
GL_TOKEN = "glpat-" + "S3cretValue" * 2  # shape of a GitLab PAT; fake


def gh_payload(event: str, name: str, host: str = "api.github.com") -> dict[str, Any]:
    """A fresh copy of a GitHub payload example (`<event>/<name>.payload.json`)."""
    folder = GH_HOOKS / host / event
    path = folder / f"{name}.payload.json"
    if not path.exists():
        path = folder / f"{name}.json"
    return copy.deepcopy(json.loads(path.read_text()))


def gl_payload(kind: str, name: str) -> dict[str, Any]:
    """A fresh copy of a GitLab payload example (`<object_kind>/<name>.json`)."""
    return copy.deepcopy(json.loads((GL_HOOKS / kind / f"{name}.json").read_text()))


def gl_event_header(kind: str, name: str) -> str:
    """The X-Gitlab-Event value recorded for a GitLab payload example."""
    index = json.loads((GL_HOOKS / "index.json").read_text())
    return str(next(e["X-Gitlab-Event"] for e in index if e["file"] == f"{kind}/{name}.json"))
