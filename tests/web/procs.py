"""Start `gitops-bot` commands as real subprocesses for tests, and stop them by pid."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import Config

ROOT = Path(__file__).resolve().parents[2]


def env_for(config: Config, **extra: str) -> dict[str, str]:
    """GITOPS_BOT_* variables describing `config` (plus extra ones) for a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_BOT_")}
    env.update(
        {
            "GITOPS_BOT_DATA_DIR": str(config.data_dir),
            "GITOPS_BOT_REPO_ALLOWLIST": ",".join(config.repo_allowlist),
            "GITOPS_BOT_JOB_LEASE_SECONDS": str(config.job_lease_seconds),
            "GITOPS_BOT_JOB_HANDLERS": config.job_handlers,
            "GITOPS_BOT_GITHUB_WRITE_SPACING": str(config.github_write_spacing),
            # Test doubles (jobdoubles.py) live next to this file.
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(ROOT)]),
        }
    )
    for forge in ("github", "gitlab"):
        secret = config.webhook_secret(forge)
        if secret is not None:
            env[f"GITOPS_BOT_{forge.upper()}_WEBHOOK_SECRET"] = secret.reveal()
    env.update(extra)
    return env


def bot_process(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m bot <args>` with stderr captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def listening_line(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    """Read the child's stderr until `serve` logs its address; that log line."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        if re.search(r"listening on http://", line):
            return line
    raise AssertionError(f"serve did not start (exit {proc.poll()})")


def listening_url(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    """The address `serve` logs when it is listening."""
    found = re.search(r"listening on (http://[^\s\"]+)", listening_line(proc, timeout))
    assert found
    return found.group(1)


def wait_for(predicate: Callable[[], object], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Signal the child we started (by its pid) and wait for it."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


def wait_stderr(proc: subprocess.Popen[str], pattern: str, timeout: float = 20) -> str:
    """Read the child's stderr until a line matches `pattern` (the pipe is not drained after)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if re.search(pattern, line):
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no stderr line matched {pattern!r} (exit {proc.poll()})")
