"""The service commands as an operator runs them: serve, web + worker, replay, db upgrade."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from bot.store import Store
from tests.web.appserver import make_config
from tests.web.hookclient import FIXTURES, fixture, get, github_headers, post
from tests.loopback import free_port
from tests.web.procs import (
    ROOT,
    bot_process,
    env_for,
    listening_line,
    listening_url,
    stop,
    wait_for,
)

PR_OPENED = "github/pull_request/opened.payload.json"
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from bot.migrations import alembic_config

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


HEAD_REVISION = _head_revision()


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_to_start_without_a_webhook_secret(tmp_path: Path) -> None:
    config = make_config(tmp_path, github_webhook_secret=None, gitlab_webhook_secret=None)
    env = env_for(config, GITOPS_BOT_GITHUB_TOKEN="ghp_abcdefghijklmnop")
    for command in (["serve", "--port", "0"], ["web", "--port", "0"]):
        result = run_cli(command, env)
        assert result.returncode == 2
        assert "GITOPS_BOT_GITHUB_WEBHOOK_SECRET is empty" in result.stderr
        assert "ghp_abcdefghijklmnop" not in result.stderr + result.stdout
    assert not (tmp_path / "gitops-bot.db").exists()  # refused before touching anything


def test_db_upgrade(tmp_path: Path) -> None:
    env = env_for(make_config(tmp_path))
    for _ in range(2):
        result = run_cli(["db", "upgrade"], env)
        assert result.returncode == 0, result.stderr
        assert f"revision {HEAD_REVISION}" in result.stdout


def test_serve_end_to_end_with_replay(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    env = env_for(config)
    proc = bot_process(["serve", "--port", "0"], env)
    try:
        url = listening_url(proc)
        result = run_cli(
            ["replay", str(FIXTURES / PR_OPENED), "--event", "pull_request", "--url", url], env
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("202 ")
        store = Store.from_url(config.database)
        wait_for(
            lambda: store.get_run("github", "github.com", "Codertocat/Hello-World", 2, HEAD),
            what="the in-process worker",
        )
        assert get(url, "/readyz") == (
            200,
            {"checks": {"database": "ok", "queue": "ok"}, "status": "ok"},
        )
        # A replay signed with another secret is refused, and replay says so.
        bad = run_cli(
            ["replay", str(FIXTURES / PR_OPENED), "--event", "pull_request", "--url", url],
            {**env, "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": "nope"},
        )
        assert bad.returncode == 1 and bad.stdout.startswith("401 ")
        gitlab = run_cli(
            [
                "replay",
                str(FIXTURES / "gitlab/merge_request/open.json"),
                "--forge",
                "gitlab",
                "--event",
                "Merge Request Hook",
                "--url",
                url,
            ],
            env,
        )
        assert gitlab.stdout.startswith("202 "), gitlab.stdout + gitlab.stderr
    finally:
        assert stop(proc, signal.SIGTERM) == 0


def test_the_listening_line_is_a_json_log_line(tmp_path: Path) -> None:
    proc = bot_process(["serve", "--port", "0"], env_for(make_config(tmp_path)))
    try:
        line = json.loads(listening_line(proc))
        assert line["level"] == "info" and line["logger"] == "bot.serve"
        assert line["message"].startswith("listening on http://127.0.0.1:")
    finally:
        stop(proc, signal.SIGTERM)  # (right after start: the exit status is not the point)


def test_web_under_gunicorn_with_a_separate_worker(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    env = env_for(config)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = bot_process(["web", "--port", str(port), "--workers", "2"], env)
    worker = bot_process(["worker"], env)
    try:
        wait_for(lambda: _up(url), what="gunicorn to answer")
        body = fixture(PR_OPENED)
        for n in range(6):
            data = json.loads(body)
            data["pull_request"]["head"]["sha"] = f"{n:040x}"
            payload = json.dumps(data).encode()
            status, _ = post(url, "/hooks/github", payload, github_headers("pull_request", payload))
            assert status == 202
        store = Store.from_url(config.database)
        wait_for(lambda: _settled(store), timeout=30, what="the worker to run every delivery")
        # Each delivery moved the head: heads older than the newest delivered one are
        # skipped, so the newest head is always reviewed and the rest at most once each.
        assert store.latest_runs(limit=1)[0].head_sha == f"{5:040x}"
        assert store.count("review_runs") <= 6
    finally:
        assert stop(web) == 0
        assert stop(worker) == 0


def _up(url: str) -> bool:
    try:
        return get(url, "/healthz")[0] == 200
    except OSError:
        return False


def _settled(store: Store) -> bool:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT outcome FROM deliveries").scalars().all()
    return len(rows) == 6 and set(rows) <= {"done", "superseded"}
