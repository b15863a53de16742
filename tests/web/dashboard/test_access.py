"""Who may read: token (bearer or basic), off without one, public by choice; what stays open."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Config, Secret
from bot.errors import ConfigError
from tests.web.dashboard.conftest import Running, make_config
from tests.web.dashboard.seed import DASH_TOKEN
from tests.web.hookclient import fixture, github_headers, post

READ_PATHS = (
    "/",
    "/deployments",
    "/drift",
    "/audit",
    "/api/v1/reviews",
    "/api/v1/deployments",
    "/api/v1/drift",
    "/api/v1/audit",
)


def test_token_as_bearer_or_basic_password(site: Running) -> None:
    for path in READ_PATHS:
        assert site.get(path)[0] == 401, path
        assert site.get(path, token=DASH_TOKEN)[0] == 200, path
        assert site.get(path, basic=DASH_TOKEN)[0] == 200, path
        assert site.get(path, basic=DASH_TOKEN.upper())[0] == 401, path
        assert site.get(path, token="")[0] == 401, path
        assert site.get(path, token="é" + DASH_TOKEN)[0] == 401, path


def test_refusal_says_nothing_about_the_token(site: Running) -> None:
    status, headers, body = site.get("/", token="wrong")
    assert status == 401 and headers["www-authenticate"].startswith('Basic realm="gitops-bot"')
    assert DASH_TOKEN not in body and "wrong" not in body
    status, _, body = site.get("/api/v1/reviews")
    assert status == 401 and json.loads(body) == {
        "status": "error",
        "error": "authentication required",
    }


def test_hooks_health_and_static_stay_open(site: Running) -> None:
    for path in ("/healthz", "/readyz", "/static/dashboard.css", "/metrics"):
        assert site.get(path)[0] == 200, path
    body = fixture("github/pull_request/opened.payload.json")
    status, answer = post(site.url, "/hooks/github", body, github_headers("pull_request", body))
    assert status == 202, answer


def test_pages_carry_a_strict_content_security_policy(site: Running) -> None:
    status, headers, body = site.get("/", token=DASH_TOKEN)
    assert status == 200 and "<script" not in body
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"


def test_dashboard_is_off_without_a_token(
    tmp_path: Path, serve_app: Callable[[Config], Running]
) -> None:
    off = serve_app(make_config(tmp_path / "off", dashboard_token=None))
    for path in READ_PATHS:
        assert off.get(path)[0] == 404, path
        assert off.get(path, token=DASH_TOKEN)[0] == 404, path
    assert off.get("/healthz")[0] == 200
    empty = serve_app(make_config(tmp_path / "empty", dashboard_token=Secret("")))
    assert empty.get("/", token="")[0] == 404
    # The front page says how to turn it on; the others say nothing.
    status, headers, body = off.get("/")
    assert status == 404 and headers["content-type"].startswith("text/plain")
    assert "dashboard is off" in body and "GITOPS_BOT_DASHBOARD_TOKEN" in body
    assert "GITOPS_BOT_DASHBOARD_PUBLIC=true" in body
    assert "GITOPS_BOT_DASHBOARD" not in off.get("/deployments")[2]


def test_public_dashboard_needs_no_login(
    tmp_path: Path, serve_app: Callable[[Config], Running]
) -> None:
    public = serve_app(
        make_config(tmp_path / "public", dashboard_token=None, dashboard_public=True)
    )
    for path in READ_PATHS:
        assert public.get(path)[0] == 200, path
    # A token, when set, wins over "public": reads then need it.
    both = serve_app(make_config(tmp_path / "both", dashboard_public=True))
    assert both.get("/")[0] == 401 and both.get("/", token=DASH_TOKEN)[0] == 200


def test_metrics_token_is_optional(tmp_path: Path, serve_app: Callable[[Config], Running]) -> None:
    guarded = serve_app(make_config(tmp_path / "m", metrics_token=Secret("scrape-token-1234")))
    assert guarded.get("/metrics")[0] == 401
    assert guarded.get("/metrics", token=DASH_TOKEN)[0] == 401
    status, headers, body = guarded.get("/metrics", token="scrape-token-1234")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert "gitops_bot_queue_depth" in body


def test_settings_from_the_environment() -> None:
    config = Config.load(
        {
            "GITOPS_BOT_DASHBOARD_TOKEN": DASH_TOKEN,
            "GITOPS_BOT_DASHBOARD_PUBLIC": "true",
            "GITOPS_BOT_PUBLIC_URL": "https://bot.example.com/",
            "GITOPS_BOT_METRICS_TOKEN": "scrape-token-1234",
            "GITOPS_BOT_LOG_FORMAT": "TEXT",
            "GITOPS_BOT_LOG_LEVEL": "debug",
        }
    )
    assert config.dashboard_token == Secret(DASH_TOKEN) and config.dashboard_public is True
    assert config.public_url == "https://bot.example.com/"
    assert (config.log_format, config.log_level) == ("text", "DEBUG")
    assert DASH_TOKEN not in repr(config) and "scrape-token-1234" not in repr(config)
    assert Config.load({}).dashboard_public is False and Config.load({}).log_format == "json"
    for key, value in (
        ("DASHBOARD_PUBLIC", "maybe"),
        ("PUBLIC_URL", "javascript:alert(1)"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "LOUD"),
    ):
        with pytest.raises(ConfigError, match=f"GITOPS_BOT_{key}"):
            Config.load({f"GITOPS_BOT_{key}": value})
