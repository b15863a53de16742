"""Service commands: `serve`, `web`, `worker`, `replay`, `db upgrade` (imports are lazy)."""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from bot.config import Config


def _fail(message: str) -> NoReturn:
    click.echo(f"gitops-bot: error: {message}", err=True)
    raise SystemExit(2)


def _config(*, service: bool) -> Config:
    from bot.config import Config, drop_credentials
    from bot.errors import ConfigError

    try:
        config = Config.load()
        if service:
            config.check_service()
    except ConfigError as exc:
        _fail(str(exc))
    drop_credentials()  # read once; nothing in this process may find them again
    return config


def _logging(config: Config) -> None:
    # JSON lines by default (GITOPS_BOT_LOG_FORMAT=text for a terminal); every configured
    # Secret is masked wherever it shows up, on top of the redact() patterns.
    from dataclasses import fields

    from bot.config import Secret
    from bot.logs import configure_logging

    secrets = [
        value for f in fields(config) if isinstance(value := getattr(config, f.name), Secret)
    ]
    configure_logging(
        config.log_level, json=config.log_format == "json", stream=sys.stderr, secrets=secrets
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port (0 picks a free one).")
@click.option("--workers", default=2, show_default=True, help="Job threads in this process.")
def serve(host: str, port: int, workers: int) -> None:
    """Web intake and job workers in one process (the embedded default)."""
    from werkzeug.serving import make_server

    from bot.app import create_app
    from bot.services import Services

    config = _config(service=True)
    _logging(config)
    services = Services.build(config)
    server = make_server(host, port, create_app(config, services), threaded=True)
    # A JSON log line like every other (GITOPS_BOT_LOG_FORMAT=text for a terminal).
    logging.getLogger("bot.serve").info("listening on http://%s:%d", host, server.server_port)
    web = threading.Thread(target=server.serve_forever, name="web", daemon=True)
    web.start()
    try:
        # The consumer owns the main thread for its signal handling: SIGTERM drains the
        # running jobs while the intake keeps accepting (and persisting) deliveries.
        from bot.pipeline.drift import drift_loop
        from bot.pipeline.sweep import sweep_loop

        with (
            services.queue.recovering(),
            drift_loop(services.config, services.store),
            sweep_loop(services.config, services.store, services.queue.enqueue),
        ):
            services.queue.consumer(workers).run()
    finally:
        server.shutdown()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option(
    "--threads",
    default=1,
    show_default=True,
    help="Threads per worker (more than 1 selects gunicorn's gthread worker).",
)
@click.option("--timeout", default=30, show_default=True, help="gunicorn worker timeout (s).")
def web(host: str, port: int, workers: int, threads: int, timeout: int) -> None:
    """Web intake only, under gunicorn (run `gitops-bot worker` for the jobs)."""
    from gunicorn.app.base import BaseApplication

    from bot.app import create_app
    from bot.services import Services
    from bot.store import Store

    config = _config(service=True)
    _logging(config)
    store = Store.from_url(config.database, config.sqlite_synchronous)
    store.upgrade()  # once, in the master, before any worker forks
    store.engine.dispose()

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                "timeout": timeout,
                "accesslog": None,
                "graceful_timeout": timeout,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            # Each worker process opens its own database and queue connections.
            return create_app(config, Services.build(config, migrate=False))

    Gunicorn().run()


@click.command()
@click.option("--workers", default=2, show_default=True, help="Job threads.")
def worker(workers: int) -> None:
    """Run queued jobs; re-enqueues jobs whose worker died (expired leases)."""
    from bot.errors import ConfigError
    from bot.services import Services

    config = _config(service=False)
    _logging(config)
    try:
        services = Services.build(config)
    except ConfigError as exc:
        _fail(str(exc))
    from bot.pipeline.drift import drift_loop
    from bot.pipeline.sweep import sweep_loop

    with (
        services.queue.recovering(),
        drift_loop(services.config, services.store),
        sweep_loop(services.config, services.store, services.queue.enqueue),
    ):
        services.queue.consumer(workers).run()


@click.command()
@click.argument("payload", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--event",
    "event_name",
    required=True,
    help="Event header: pull_request, push (GitHub); 'Merge Request Hook' (GitLab).",
)
@click.option(
    "--url", default="http://127.0.0.1:8080", show_default=True, help="Base URL of the running bot."
)
@click.option(
    "--forge", type=click.Choice(["github", "gitlab"]), default="github", show_default=True
)
def replay(payload: Path, event_name: str, url: str, forge: str) -> None:
    """Send PAYLOAD to a running bot as a correctly signed delivery with a fresh id."""
    import urllib.error
    import urllib.request

    from bot.web.hooks import github_signature

    config = _config(service=False)
    secret = config.webhook_secret(forge)
    if secret is None or not secret.reveal():
        _fail(f"GITOPS_BOT_{forge.upper()}_WEBHOOK_SECRET is not set")
    body = payload.read_bytes()
    delivery = str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "User-Agent": "gitops-bot-replay"}
    if forge == "github":
        headers |= {
            "X-GitHub-Event": event_name,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": github_signature(secret.reveal().encode(), body),
        }
    else:
        headers |= {
            "X-Gitlab-Event": event_name,
            "Idempotency-Key": delivery,
            "X-Gitlab-Token": secret.reveal(),
        }
    target = url.rstrip("/") + f"/hooks/{forge}"
    if not target.startswith(("http://", "https://")):
        _fail(f"--url must be an http(s) URL, not {url!r}")
    req = urllib.request.Request(target, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (http(s) only)
            status, answer = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, exc.read()
    except OSError as exc:
        _fail(f"cannot reach {target}: {exc}")
    click.echo(f"{status} {answer.decode(errors='replace').strip()} (delivery {delivery})")
    if status >= 400:
        raise SystemExit(1)


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command()
def upgrade() -> None:
    """Apply the database migrations (the service also does this when it starts)."""
    from bot.migrations import current
    from bot.store import Store

    store = Store.from_url(_config(service=False).database)
    store.upgrade()
    click.echo(f"database at revision {current(store.engine)}")


def register(group: click.Group) -> None:
    """Add the service commands to the `gitops-bot` command group."""
    for command in (serve, web, worker, replay, db):
        group.add_command(command)
