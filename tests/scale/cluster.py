"""A scale-out deployment of the bot on one machine: `gitops-bot web` (gunicorn) and
`gitops-bot worker` processes sharing PostgreSQL and Redis, each with its own data dir
(as on separate machines), their output in log files so busy processes never block."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.loopback import free_port

ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    """One `python -m bot <args>` child, started and stopped by its pid only."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name, self.args = name, args
        self.log_path = logdir / f"{name}.log"
        logdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", *args],
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        """A crash: SIGKILL, no chance to release leases or drain."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (drain), SIGKILL after `timeout`; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


class Web(BotProcess):
    """`gitops-bot web` on a free port."""

    def __init__(self, name: str, env: dict[str, str], logdir: Path, workers: int = 2) -> None:
        self.port = free_port()
        super().__init__(
            name, ["web", "--port", str(self.port), "--workers", str(workers)], env, logdir
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        assert self.alive(), f"{self.name} exited {self.proc.returncode}: {self.log()}"
        try:
            return get_json(self.url, "/readyz")[0] == 200
        except OSError:
            return False


def get_json(url: str, path: str, timeout: float = 5) -> tuple[int, Any]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def wait_until(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def bot_env(**settings: str) -> dict[str, str]:
    """The environment of a bot process: ours without GITOPS_BOT_*, plus `settings`
    (keys without the GITOPS_BOT_ prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_BOT_")}
    env["PYTHONPATH"] = str(ROOT)
    env["GITOPS_BOT_TOOLS_DIR"] = os.environ.get(
        "GITOPS_BOT_TOOLS_DIR", str(ROOT / ".tools" / "bin")
    )
    env.update({f"GITOPS_BOT_{k.upper()}": v for k, v in settings.items()})
    return env
