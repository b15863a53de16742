"""Benchmark: signed 20 KB deliveries stored durably under `gitops-bot web` vs a bare Flask 202.

Runs both servers under gunicorn (2 sync workers) on 127.0.0.1, drives each with wrk for a
fixed time (same connections, same body) and prints deliveries/s and p50/p99 acknowledgement
latency. Every request carries a fresh X-GitHub-Delivery (a wrk Lua `request()` counter); the
signature is computed once, as the HMAC covers only the body. After the run it counts the
rows in the store to confirm that every 202 was a durable delivery.

Usage: .venv/bin/python bench/intake.py [--seconds 10] [--connections 4] [--threads 1]
Needs wrk (`apt-get install -y wrk`). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = ROOT / "tests/fixtures/webhooks/github/pull_request/opened.payload.json"
SECRET = "bench-secret"
SIZE = 20 * 1024

LUA = r"""
local body, sig, run = nil, "%(sig)s", "%(run)s"
local n, threads = 0, 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  local f = assert(io.open("%(body)s", "rb"))
  body = f:read("*a")
  f:close()
end
function request()
  n = n + 1
  return wrk.format("POST", "/hooks/github", {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "pull_request",
    ["X-GitHub-Delivery"] = run .. "-" .. tid .. "-" .. n,
    ["X-Hub-Signature-256"] = sig,
  }, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"errors": %%d, "non2xx": %%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def bare_server(port: int, workers: int, threads: int) -> None:
    """A Flask app that reads the body and answers 202, under the same gunicorn settings."""
    from flask import Flask, request
    from gunicorn.app.base import BaseApplication

    app = Flask("bare")

    @app.post("/hooks/github")
    def hook() -> tuple[str, int]:
        request.get_data()
        return '{"status":"queued"}', 202

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    class Bare(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": workers,
                "threads": threads,
                "accesslog": None,
                "worker_class": "gthread" if threads > 1 else "sync",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    Bare().run()


def body_20k() -> bytes:
    """The real `pull_request.opened` example, compacted and padded to exactly 20 KB."""
    data = json.loads(PAYLOAD.read_bytes())
    head_repo = data["pull_request"]["head"]["repo"]
    for key in [k for k in head_repo if k.endswith("_url")]:
        if len(json.dumps(data, separators=(",", ":"))) <= SIZE:
            break
        del head_repo[key]
    data["pull_request"]["body"] = ""
    pad = SIZE - len(json.dumps(data, separators=(",", ":")).encode())
    assert pad >= 0, "payload larger than 20 KB after trimming"
    data["pull_request"]["body"] = "x" * pad
    body = json.dumps(data, separators=(",", ":")).encode()
    assert len(body) == SIZE
    return body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()  # noqa: S310 (loopback http)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not come up")


def wrk(url: str, script: Path, seconds: int, connections: int, threads: int) -> dict[str, int]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, int] = json.loads(line.removeprefix("RESULT "))
    return result


def run_one(
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    body: Path,
    sig: str,
    args: argparse.Namespace,
) -> dict[str, int]:
    """Start one server, warm it up for 2 s, then measure it with wrk."""
    proc = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(base + "/healthz")
        scripts = []
        for phase in ("warmup", "run"):
            script = body.parent / f"{port}-{phase}.lua"
            script.write_text(
                LUA % {"sig": sig, "run": f"{port}-{phase}-{os.getpid()}", "body": str(body)}
            )
            scripts.append(script)
        wrk(base, scripts[0], 2, args.connections, args.threads)
        return wrk(base, scripts[1], args.seconds, args.connections, args.threads)
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--web-threads",
        type=int,
        default=1,
        help="threads per gunicorn worker (gthread when > 1), both servers",
    )
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(args.bare_server, args.workers, args.web_threads)
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="gitops-bot-bench-"))
    body = tmp / "body.json"
    body.write_bytes(body_20k())
    sig = "sha256=" + hmac.new(SECRET.encode(), body.read_bytes(), hashlib.sha256).hexdigest()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GITOPS_BOT_")},
        "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": SECRET,
        "GITOPS_BOT_REPO_ALLOWLIST": "*",
        # no workers run here: every delivery stays pending, so the bound is lifted to
        # measure the accepting path (its check costs the same at any backlog)
        "GITOPS_BOT_QUEUE_MAX": str(10**9),
    }
    web = [
        sys.executable,
        "-m",
        "bot",
        "web",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.web_threads),
        "--port",
    ]
    runs = {
        "bot, sync=FULL": (web, {}),
        "bot, sync=NORMAL": (web, {"GITOPS_BOT_SQLITE_SYNCHRONOUS": "normal"}),
        "bare Flask 202": (
            [
                sys.executable,
                __file__,
                "--workers",
                str(args.workers),
                "--web-threads",
                str(args.web_threads),
                "--bare-server",
            ],
            {},
        ),
    }
    results, stored = {}, {}
    sys.path.insert(0, str(ROOT))
    from bot.store import Store

    for name, (argv, extra) in runs.items():
        port = free_port()
        data = tmp / name.replace(" ", "").replace(",", "-").replace("=", "-")
        run_env = {**env, **extra, "GITOPS_BOT_DATA_DIR": str(data)}
        results[name] = run_one(name, [*argv, str(port)], run_env, port, body, sig, args)
        if name.startswith("bot"):
            db = Store.from_url(f"sqlite:///{data / 'gitops-bot.db'}")
            stored[name] = db.count("deliveries")
            db.engine.dispose()
    kind = f"gthread x{args.web_threads}" if args.web_threads > 1 else "sync"
    print(
        f"signed {SIZE} B deliveries, gunicorn {args.workers} {kind} workers, wrk "
        f"-t{args.threads} -c{args.connections} -d{args.seconds}s on 127.0.0.1, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"{'server':<18} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7} "
        f"{'non-2xx':>8} {'of bare':>8} {'rows':>7}"
    )
    bare = results["bare Flask 202"]
    bare_rate = bare["requests"] / (bare["duration_us"] / 1e6)
    for name, r in results.items():
        rate = r["requests"] / (r["duration_us"] / 1e6)
        print(
            f"{name:<18} {rate:>7.0f} {r['p50_us'] / 1000:>7.2f} {r['p99_us'] / 1000:>7.2f} "
            f"{r['errors']:>7} {r['non2xx']:>8} {rate / bare_rate:>8.0%} "
            f"{stored.get(name, ''):>7}"
        )
    print("rows: deliveries in the store after warm-up + run (each one a 202, none lost)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
