"""Redis and PostgreSQL restarted under a scale-out bot (`gitops-bot web` + `worker` on a
private PostgreSQL and Redis) while it reviews real changes against the GitHub test
server: both crash and come back while a review is held between its comment and its
status (a fault point with a hold file), then more changes come in. Every delivery is
reviewed once, one comment per change, no secret anywhere."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import markers
from bot.store import FINAL, Store
from tests.conftest import git
from tests.e2e.loop import REPO, ROOT, TOKEN, pr_payload
from tests.faults.harness import GRACE, LEASE, assert_no_secret, wait
from tests.forgeserver import GitHubServer
from tests.scale.cluster import BotProcess, Web, bot_env
from tests.services import PostgresServer, RedisServer
from tests.web.hookclient import SECRET, github_headers, post

pytestmark = [pytest.mark.scale, pytest.mark.faults]
CHANGES = (1, 2, 3)


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test alone (it is restarted)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_and_postgres_restarts_lose_no_review(
    tmp_path: Path, postgres: PostgresServer, private_redis: Callable[..., RedisServer]
) -> None:
    redis = private_redis(True)
    forge = GitHubServer()
    forge.tokens[TOKEN] = "gitops-bot"
    forge.start()
    remotes = tmp_path / "remotes"
    repo = remotes / "Codertocat" / "Hello-World.git"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_repo.py"), str(repo)],
        check=True,
        capture_output=True,
    )
    database = postgres.fresh_url()
    settings = dict(
        database_url=database,
        queue_url=redis.url(0),
        github_api_url=forge.url,
        github_token=TOKEN,
        github_webhook_secret=SECRET,
        github_write_spacing="0",
        repo_allowlist="127.0.0.1/Codertocat/*",
        job_lease_seconds=str(LEASE),
        clone_url_template=f"file://{remotes}/{{owner}}/{{repo}}.git",
    )
    logs = tmp_path / "logs"
    procs: list[BotProcess] = []
    store = Store.from_url(database)
    try:
        web = Web("web", bot_env(**settings, data_dir=str(tmp_path / "web")), logs)
        procs.append(web)
        wait(web.ready, 60, "the web process")
        hold = tmp_path / "hold"
        hold.touch()
        worker = BotProcess(
            "worker",
            ["worker", "--workers", "2"],
            bot_env(
                **settings,
                data_dir=str(tmp_path / "worker"),
                fault_point="after_comment",
                fault_hold=str(hold),
            ),
            logs,
        )
        procs.append(worker)
        head, base = git(repo, "rev-parse", "change"), git(repo, "rev-parse", "main")

        def deliver(number: int) -> None:
            forge.add_pull(
                REPO, number, head_sha=head, base_sha=base, files=["apps/web/deployment.yaml"]
            )
            body = json.dumps(pr_payload("opened", head, base, number)).encode()
            code, answer = post(
                web.url, "/hooks/github", body, github_headers("pull_request", body)
            )
            assert code == 202, answer

        deliver(1)
        wait(
            lambda: "fault point after_comment reached" in worker.log(10**6),
            60,
            f"the first review to reach its comment: {worker.log()}",
        )
        redis.stop(signal.SIGKILL)  # Redis crashes under the running job...
        redis.start()  # ...and comes back (append-only file)
        postgres.restart()  # PostgreSQL crashes too, and comes back
        hold.unlink()  # the job goes on: status, run record, release
        deliver(2)
        deliver(3)

        def settled() -> bool:
            try:
                with store.engine.connect() as conn:
                    rows = conn.execute(sa.text("SELECT outcome FROM deliveries")).all()
            except sa.exc.OperationalError:
                return False
            return len(rows) == len(CHANGES) and all(r.outcome in FINAL for r in rows)

        wait(settled, LEASE + GRACE, "every delivery to finish: " + worker.log())
        with store.engine.connect() as conn:
            outcomes = [r.outcome for r in conn.execute(sa.text("SELECT outcome FROM deliveries"))]
        assert outcomes == ["done"] * len(CHANGES)
        for number in CHANGES:
            kinds = [markers.first_line(c["body"]) for c in forge.issue_comments(REPO, number)]
            assert kinds == [markers.REVIEW], (number, kinds)
        finals = [s["state"] for s in forge.statuses if s["state"] != "pending"]
        assert len(finals) >= len(CHANGES) and set(finals) == {"failure"}
        outputs = [(f"log of {p.name}", p.log(10**8)) for p in procs]
        outputs += [(f"forge {r.path}", f"{r.path} {r.query} {r.raw!r}") for r in forge.requests]
        assert_no_secret(outputs)
        assert forge.violations == []
    finally:
        for proc in procs:
            proc.stop(timeout=10)
        store.engine.dispose()
        forge.stop()
