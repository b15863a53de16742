"""Fixtures for the dashboard tests: a seeded store, the app on loopback, headless Chromium."""

from __future__ import annotations

import base64
import http.client
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from bot.app import create_app
from bot.config import Config, Secret
from bot.services import Services
from bot.tools import Tools
from tests.web.dashboard.seed import DASH_TOKEN, Reviewed, make_reviews, seed
from tests.web.hookclient import GL_TOKEN, SECRET

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS: list[Path] = []


def make_config(data_dir: Path, **changes: Any) -> Config:
    """A service config with the dashboard token set (no forge API is reachable here)."""
    base = Config(
        data_dir=data_dir,
        github_webhook_secret=Secret(SECRET),
        gitlab_webhook_secret=Secret(GL_TOKEN),
        repo_allowlist=("github.com/*",),
        job_handlers="bot.queue:default_handlers",
        dashboard_token=Secret(DASH_TOKEN),
        public_url="https://bot.example.com",
    )
    return base.with_(**changes)


@dataclass
class Running:
    """The app served on loopback and its services."""

    url: str
    services: Services

    def get(
        self,
        path: str,
        token: str | None = None,
        basic: str | None = None,
    ) -> tuple[int, dict[str, str], str]:
        """GET `path` with a bearer token or a basic-auth password: status, headers, body."""
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if basic is not None:
            pair = base64.b64encode(f"reader:{basic}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.netloc, timeout=30)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read().decode()
        finally:
            conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


@pytest.fixture(scope="session")
def reviews(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> tuple[Reviewed, Reviewed]:
    """Two reviews made once per session by the real pipeline (helm and kubectl included)."""
    return make_reviews(tmp_path_factory.mktemp("repos"), tools)


@pytest.fixture(scope="module")
def serve_app() -> Iterator[Callable[[Config], Running]]:
    """Start create_app(config) on 127.0.0.1:<free port> in a thread (stopped at the end)."""
    servers = []

    def start(config: Config) -> Running:
        services = Services.build(config)
        server = make_server("127.0.0.1", 0, create_app(config, services), threaded=True)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return Running(f"http://127.0.0.1:{server.server_port}", services)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    reviews: tuple[Reviewed, Reviewed],
    serve_app: Callable[[Config], Running],
) -> Running:
    """The app with a seeded store and a dashboard token."""
    running = serve_app(make_config(tmp_path_factory.mktemp("data")))
    seed(running.services.store, *reviews)
    return running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (its own browsers are never used)."""
    from playwright.sync_api import sync_playwright

    assert os.access(CHROMIUM, os.X_OK), "chromium missing: run ./scripts/setup (as root)"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$GITOPS_BOT_SCREENSHOTS, else a folder under the session's tmp dir."""
    chosen = os.environ.get("GITOPS_BOT_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shoot(screenshot_dir: Path, request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """Save a full-page screenshot, record it on the test report and list it at the end."""

    def take(page: Any, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        SCREENSHOTS.append(path)
        request.node.user_properties.append(("screenshot", str(path)))
        print(f"screenshot: {path}")
        return path

    return take


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS:
        terminalreporter.section("dashboard screenshots")
        for path in SCREENSHOTS:
            terminalreporter.write_line(str(path))
