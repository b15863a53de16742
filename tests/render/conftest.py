"""Helpers for the render tests: a loopback canary and a recording wrapper around real tools."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.tools import Tools


SENTINEL = b"gitops-bot-test-canary-sentinel"


@dataclass
class Canary:
    """A TCP listener on 127.0.0.1 that counts every connection it receives."""

    port: int
    hits: list[bytes] = field(default_factory=list)
    sentinel_seen: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settled_hits(self) -> list[bytes]:
        """Every connection made before this call: the listener accepts in order, so once
        its own sentinel connection is seen, any earlier one has been recorded too."""
        self.sentinel_seen.clear()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(SENTINEL)
            assert self.sentinel_seen.wait(5), "the canary stopped accepting"
        return [h for h in self.hits if h != SENTINEL]


@pytest.fixture
def canary() -> Iterator[Canary]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    found = Canary(server.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                if data == SENTINEL:
                    found.sentinel_seen.set()
                found.hits.append(data)
                conn.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield found
    stop.set()
    thread.join(timeout=2)
    server.close()


@dataclass
class Recorded:
    """Tools whose helm/kubectl are wrappers that log argv and environment, then exec the
    real one."""

    tools: Tools
    log: Path

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [line.split("\0")[:-1] for line in self.log.read_text().split("\n") if line]

    def environments(self) -> list[str]:
        return sorted(p.read_text() for p in self.log.parent.glob("env-*"))


@pytest.fixture
def recorded(tools: Tools, tmp_path: Path) -> Recorded:
    spy = tmp_path / "spy"
    spy.mkdir()
    log = spy / "argv.log"
    wrapped = {}
    for name in ("helm", "kubectl"):
        real = getattr(tools, name)
        script = spy / name
        script.write_text(
            "#!/bin/sh\n"
            f'for a in "$0" "$@"; do printf "%s\\0" "$a"; done >> {log}\n'
            f'printf "\\n" >> {log}\n'
            f"env > {spy}/env-$$\n"
            f'exec {real} "$@"\n'
        )
        os.chmod(script, 0o755)
        wrapped[name] = str(script)
    return Recorded(Tools(helm=wrapped["helm"], kubectl=wrapped["kubectl"], git=tools.git), log)


def process_running_with(text: str) -> list[int]:
    """Pids of processes (zombies included) whose command line mentions `text`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline and int(entry.name) != os.getpid():
            pids.append(int(entry.name))
    return pids
