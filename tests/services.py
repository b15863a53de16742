"""Private Redis and PostgreSQL servers for tests, started from the real Debian binaries.

Each server lives in its own temporary directory on a free loopback port and is stopped at
the end of the session. A missing binary fails the test (never skips): run ./scripts/setup.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.loopback import free_port

SETUP_HINT = "run ./scripts/setup (it installs Debian's redis-server and postgresql)"
PG_USER = "gitops-bot-test"  # created by ./scripts/setup; PostgreSQL refuses to run as root


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class RedisServer:
    """`redis-server` with AOF persistence (fsync per write, so even SIGKILL loses nothing)
    and no RDB snapshots; `persistent=False`: a restart starts empty."""

    def __init__(self, workdir: Path, port: int | None = None, persistent: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(f"redis-server not found: {SETUP_HINT}", pytrace=False)
        self.binary = binary
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.persistent = persistent
        self.proc: subprocess.Popen[bytes] | None = None
        self._dbs = itertools.count(1)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def fresh_url(self) -> str:
        """The URL of a database no other test of this session used."""
        return self.url(next(self._dbs))

    def start(self) -> RedisServer:
        aof = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *aof,
            "--dir",
            str(self.dir),
            "--databases",
            "256",
            "--daemonize",
            "no",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait(self.ping, 20, f"redis-server on port {self.port} ({self.dir / 'redis.log'})")
        return self

    def ping(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"redis-server exited {self.proc.returncode}: {log}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server we started (SIGTERM flushes the AOF; SIGKILL is a crash)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def client(self, url: str) -> Any:
        import redis

        return redis.Redis.from_url(url, socket_timeout=5)


class PostgresServer:
    """A private PostgreSQL cluster (initdb + pg_ctl) with trust auth on 127.0.0.1."""

    def __init__(self) -> None:
        found = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
            key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
        )
        if not found:
            pytest.fail(
                f"PostgreSQL binaries not found under /usr/lib/postgresql: {SETUP_HINT}",
                pytrace=False,
            )
        self.bin = Path(found[-1]).parent
        self.port = free_port()
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam(PG_USER)
            except KeyError:
                pytest.fail(
                    f"user {PG_USER} missing (PostgreSQL will not run as root): {SETUP_HINT}",
                    pytrace=False,
                )
        # Short path: the Unix socket lives here too (sun_path holds ~107 bytes).
        self.root = Path(tempfile.mkdtemp(prefix="gbpg-", dir="/tmp"))
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.data = self.root / "data"
        self._dbs = itertools.count(1)

    def _run(self, *argv: str) -> None:
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            kwargs = dict(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.root),
        }
        done = subprocess.run(
            [str(self.bin / argv[0]), *argv[1:]],
            env=env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **kwargs,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"{argv[0]} failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}"
            )

    def start(self) -> PostgresServer:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        return self._start()

    def restart(self, mode: str = "immediate") -> None:
        """Stop the server (`immediate`: as in a crash, no checkpoint) and start it again."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self._start()

    def _start(self) -> PostgresServer:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c shared_buffers=64MB "
            # DDL is logged with its database, so tests can count migrations.
            "-c log_statement=ddl -c log_line_prefix=db=%d:"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def ddl(self, database: str) -> list[str]:
        """The first line of each DDL statement run in `database` so far (server log)."""
        log = (self.root / "postgres.log").read_text(errors="replace")
        return re.findall(rf"^db={re.escape(database)}:LOG:  statement: \s*(.*)", log, re.M)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_url(self) -> str:
        """A new, empty database for one test."""
        import psycopg

        name = f"t{next(self._dbs)}_{os.getpid()}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            except AssertionError:
                pass  # not running
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start Redis servers of this test alone (to crash and restart them)."""
    servers: list[RedisServer] = []

    def start(persistent: bool = True) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(servers)}", persistent=persistent)
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A Redis database of its own for one test."""
    return redis_server.fresh_url()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A PostgreSQL database of its own for one test."""
    return postgres_server.fresh_url()
