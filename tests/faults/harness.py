"""The fault-injection rig: the bot's intake in the test process, real `gitops-bot worker`
processes (killed with SIGKILL at a fault point, bot.faults), the GitHub test server and a
real repository; plus the invariants every fault must leave intact."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from typing import Any
import sqlalchemy as sa

from bot import markers
from bot.store import FINAL, metadata
from tests.e2e.loop import REPO, TOKEN, Loop, running_loop
from tests.scale.cluster import BotProcess
from tests.web.hookclient import SECRET
from tests.web.procs import env_for

ROOT = Path(__file__).resolve().parents[2]
LEASE = 3.0  # job lease of the rig's workers (s): a killed worker's job waits this
GRACE = 60.0  # every job finishes within LEASE + GRACE of the fault


@dataclass
class Rig:
    """A running loop (intake, store, queue, forge, repository) and its worker processes."""

    loop: Loop
    tmp: Path
    workers: list[BotProcess] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.loop.services.config.data_dir

    def env(self, fault: str | None = None, **extra: str) -> dict[str, str]:
        config = self.loop.services.config
        env = env_for(
            config,
            GITOPS_BOT_GITHUB_API_URL=self.loop.forge.url,
            GITOPS_BOT_GITHUB_TOKEN=TOKEN,
            GITOPS_BOT_CLONE_URL_TEMPLATE=config.clone_url_template,
            GITOPS_BOT_TOOLS_DIR=os.environ.get(
                "GITOPS_BOT_TOOLS_DIR", str(ROOT / ".tools" / "bin")
            ),
            TMPDIR=str(self.systmp),
            **extra,
        )
        if config.database_url:
            env["GITOPS_BOT_DATABASE_URL"] = config.database_url
        if config.queue_url:
            env["GITOPS_BOT_QUEUE_URL"] = config.queue_url
        if fault:
            env["GITOPS_BOT_FAULT_POINT"] = fault
        return env

    @property
    def systmp(self) -> Path:
        """The workers' system temporary folder: nothing of a job may stay there."""
        path = self.tmp / "systmp"
        path.mkdir(exist_ok=True)
        return path

    def worker(self, fault: str | None = None, **extra: str) -> BotProcess:
        name = f"worker{len(self.workers)}"
        proc = BotProcess(
            name, ["worker", "--workers", "1"], self.env(fault, **extra), self.tmp / "logs"
        )
        self.workers.append(proc)
        return proc

    def kill_at(
        self,
        fault: str,
        timeout: float = 90,
        before_kill: Callable[[BotProcess], object] = lambda proc: None,
    ) -> tuple[BotProcess, float]:
        """Start a worker armed with `fault`, wait until it stops there, SIGKILL it; the
        process and the moment it died."""
        proc = self.worker(fault)
        wait(
            lambda: f"fault point {fault} reached" in proc.log(10**6),
            timeout,
            f"the worker to reach {fault}: {proc.log()}",
        )
        before_kill(proc)
        proc.kill9()
        return proc, time.monotonic()

    def finish(self, since: float, timeout: float = LEASE + GRACE) -> float:
        """Run a healthy worker until every delivery is final; seconds since `since`."""
        proc = self.worker()
        wait(
            lambda: self.open_deliveries() == [],
            timeout,
            f"every job to finish: {self.open_deliveries()} {proc.log()}",
        )
        elapsed = time.monotonic() - since
        assert proc.stop() == 0, proc.log()
        return elapsed

    def open_deliveries(self) -> list[tuple[str, str]]:
        with self.loop.services.store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, outcome FROM deliveries")).all()
        return [(r.id, r.outcome) for r in rows if r.outcome not in FINAL]

    # -- invariants -------------------------------------------------------------------------
    def check(self, numbers: Iterable[int] = (1,)) -> None:
        """No event lost, no duplicate comment, no secret in any output, nothing left over."""
        with self.loop.services.store.engine.connect() as conn:
            outcomes = {
                r.id: r.outcome for r in conn.execute(sa.text("SELECT id, outcome FROM deliveries"))
            }
        assert outcomes and set(outcomes.values()) == {"done"}, outcomes
        for number in numbers:
            kinds = [
                markers.first_line(c["body"])
                for c in self.loop.comments(number)
                if c["user"]["login"] == "gitops-bot"
            ]
            assert len(kinds) == len(set(kinds)), f"duplicate comments on #{number}: {kinds}"
        assert_no_secret(self.outputs())
        jobs = self.data / "jobs"
        assert not jobs.exists() or list(jobs.iterdir()) == [], "a job folder was left behind"
        assert list(self.systmp.iterdir()) == [], "a job wrote to the system temp folder"
        assert self.loop.forge.violations == []

    def outputs(self) -> Iterator[tuple[str, str]]:
        """Everything the bot wrote: forge requests (not their auth headers), logs, rows."""
        for r in self.loop.forge.requests:
            yield (
                f"forge {r.method} {r.path}",
                f"{r.path} {r.query} {r.raw.decode(errors='replace')}",
            )
        for proc in self.workers:
            yield f"log of {proc.name}", proc.log(10**8)
        with self.loop.services.store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(table.select()):
                    yield f"row of {table.name}", json.dumps(dict(row._mapping), default=str)

    def review_statuses(self, sha: str) -> list[str]:
        return [s["state"] for s in self.loop.statuses(sha)]


def encodings(secret: str) -> list[str]:
    """A secret in every form a leak could take."""
    raw = secret.encode()
    return [
        secret,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        quote(secret),
    ]


def assert_no_secret(outputs: Iterable[tuple[str, str]]) -> None:
    forms = [form for secret in (TOKEN, SECRET) for form in encodings(secret)]
    leaks = [where for where, text in outputs for form in forms if form in text]
    assert leaks == [], f"a credential in: {sorted(set(leaks))}"


def wait(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def rig(tmp_path: Path, **settings: Any) -> Iterator[Rig]:
    """A running loop with LEASE-second leases; stops every worker it started."""
    with running_loop(tmp_path, job_lease_seconds=LEASE, **settings) as loop:
        made = Rig(loop, tmp_path)
        try:
            yield made
        finally:
            for proc in made.workers:
                proc.stop(timeout=10)


__all__ = ["GRACE", "LEASE", "REPO", "Rig", "assert_no_secret", "rig", "wait"]
