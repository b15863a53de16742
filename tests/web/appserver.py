"""A running intake for tests: a Config, real Services (SQLite + SqliteHuey), a live server.

Its fixtures (`config`, `serve`, `bot`) are registered for every test by `tests/conftest.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from bot.app import create_app
from bot.config import Config, Secret
from bot.services import Services
from tests.web.hookclient import GL_TOKEN, SECRET, get, gitlab_headers, github_headers, post

ALLOW = (
    "github.com/Codertocat/*",
    "gitlab.com/awesome_space/*",
    "gitlab.com/gitlab-org/*",
    "gitlab.com/mike/*",
)


def make_config(data_dir: Path, **changes: Any) -> Config:
    """A service config for tests: both forges, test secrets, short leases."""
    base = Config(
        data_dir=data_dir,
        github_webhook_secret=Secret(SECRET),
        gitlab_webhook_secret=Secret(GL_TOKEN),
        repo_allowlist=ALLOW,
        job_lease_seconds=2.0,
        # intake tests use the no-op handlers: no forge API is reachable here
        job_handlers="bot.queue:default_handlers",
    )
    return base.with_(**changes)


@dataclass
class Bot:
    """A running intake on loopback plus direct access to its store and queue."""

    url: str
    services: Services

    @property
    def store(self) -> Any:
        return self.services.store

    @property
    def queue(self) -> Any:
        return self.services.queue

    def github(
        self, event: str, body: bytes, delivery: str | None = None, **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        return post(self.url, "/hooks/github", body, github_headers(event, body, delivery, **kw))

    def gitlab(
        self, event: str, body: bytes, delivery: str | None = None, **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        return post(self.url, "/hooks/gitlab", body, gitlab_headers(event, delivery, **kw))

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return get(self.url, path)

    def drain(self) -> list[Any]:
        """Run every queued job in this process, as a consumer would."""
        huey, results = self.queue.huey, []
        while (task := huey.dequeue()) is not None:
            results.append(huey.execute(task))
        return results


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path / "data")


@pytest.fixture
def serve() -> Iterator[Callable[[Config, Services | None], Bot]]:
    """Start create_app(config, services) on 127.0.0.1:<free port> in a thread."""
    servers = []

    def start(config: Config, services: Services | None = None) -> Bot:
        services = services or Services.build(config)
        server = make_server("127.0.0.1", 0, create_app(config, services), threaded=True)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return Bot(f"http://127.0.0.1:{server.server_port}", services)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def bot(config: Config, serve: Callable[[Config, Services | None], Bot]) -> Bot:
    return serve(config, None)
