"""Scale-out mode end to end: PostgreSQL store, Redis queue, two `gitops-bot web` (gunicorn)
and two `gitops-bot worker` processes, the GitHub test server and a real git repository.

500 signed deliveries for 50 pull requests (three heads each, every delivery sent to both
web processes at once, then redelivered), one worker killed with SIGKILL in the middle of a
review (docs/security.md#idempotent-effects, docs/security.md#crash-recovery-and-shutdown).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.config import Config
from bot.queue import make_huey
from bot.store import Store, deliveries, delivery_key, review_runs
from tests.forgeserver import GitHubServer
from tests.scale.cluster import BotProcess, Web, bot_env, wait_until
from tests.scale.scenario import REPO, TOKEN, Sender, build_repo, final_statuses, statuses
from tests.services import PostgresServer
from tests.web.hookclient import SECRET
from tests.conftest import delivery_row

CHANGES = 50
SHAS = 3  # heads per change: opened + 2 synchronize
DELIVERIES = 500  # CHANGES * SHAS ids sent to both webs, the rest redeliveries
LEASE = 6.0  # job lease (s): a killed worker's job runs again after this
SLOW_SPIN = 8_000_000  # change 1's last head: a Helm render of several seconds
# Job threads per worker: a review mostly waits (PyGithub spaces writes 1 s apart).
THREADS = 4


def test_two_webs_and_two_workers_on_postgres_and_redis(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str, redis_url: str
) -> None:
    started = time.monotonic()
    forge = GitHubServer()
    forge.tokens[TOKEN] = "gitops-bot"
    forge.start()
    remotes = tmp_path / "remotes"
    base, changes = build_repo(remotes / f"{REPO}.git", CHANGES, SHAS, SLOW_SPIN)
    settings = dict(
        database_url=postgres_url,
        queue_url=redis_url,
        github_api_url=forge.url,
        github_token=TOKEN,
        github_webhook_secret=SECRET,
        repo_allowlist="127.0.0.1/Codertocat/*",
        clone_url_template=f"file://{remotes}/{{owner}}/{{repo}}.git",
        job_lease_seconds=str(LEASE),
        job_handlers="bot.pipeline.handlers:pipeline_handlers",
    )
    logs = tmp_path / "logs"

    def env(name: str) -> dict[str, str]:  # a data dir per process: separate machines
        return bot_env(**settings, data_dir=str(tmp_path / name))

    procs: list[BotProcess] = []
    store = Store.from_url(postgres_url)
    try:
        # Three processes migrate the fresh database at the same moment.
        webs = [Web(f"web{i}", env(f"web{i}"), logs) for i in (1, 2)]
        worker_a = BotProcess("worker-a", ["worker", "--workers", "1"], env("worker-a"), logs)
        procs += [*webs, worker_a]
        for web in webs:
            wait_until(web.ready, 60, f"{web.name} to be ready")
        database = postgres_url.rsplit("/", 1)[1]
        created = [s for s in postgres_server.ddl(database) if s.startswith("CREATE TABLE")]
        assert sorted(created) == sorted(set(created)), created  # each table created once
        assert any("deliveries" in s for s in created)

        sender = Sender(forge, base, [w.url for w in webs])
        # Change 1 first, while worker A is the only worker: its last head is the slow one.
        slow = changes[0]
        sender.push_all(slow)
        slow_keys = [delivery_key("github", d) for d in slow.deliveries]

        def a_claim() -> str | None:
            # Whichever of change 1's deliveries worker A holds reviews the forge's current
            # head, the slow one (a stale event reviews the current head, once per SHA).
            for key in slow_keys:
                row = store.delivery(key)
                if (
                    row
                    and row["outcome"] == "claimed"
                    and f":{worker_a.pid}:" in (row["worker"] or "")
                ):
                    return key
            return None

        def a_renders_slow_head() -> bool:
            return a_claim() is not None and bool(statuses(forge, slow.head))

        wait_until(a_renders_slow_head, 60, "worker A to start reviewing the slow head")
        slow_key = a_claim()
        assert slow_key is not None

        worker_b = BotProcess(
            "worker-b", ["worker", "--workers", str(THREADS)], env("worker-b"), logs
        )
        procs.append(worker_b)
        pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="change")
        pending = [pool.submit(sender.push_all, change) for change in changes[1:]]

        # SIGKILL worker A while it renders, in the middle of the burst.
        wait_until(lambda: sender.sent >= 100, 60, "the first 100 deliveries")
        row = store.delivery(slow_key)
        assert row is not None and row["outcome"] == "claimed", row
        assert f":{worker_a.pid}:" in row["worker"] and not final_statuses(forge, slow.head)
        worker_a.kill9()
        killed_at = time.monotonic()
        for future in pending:
            future.result()

        # Redeliveries (GitHub's "Redeliver"): random ids, to either web, all at once.
        rng = random.Random(62)
        ids = [d for c in changes for d in c.deliveries]
        again = [rng.choice(ids) for _ in range(DELIVERIES - sender.sent)]
        list(pool.map(lambda d: sender.send(rng.choice(sender.urls), d), again))
        pool.shutdown()
        assert sender.sent == DELIVERIES

        # A restarted worker A joins worker B.
        worker_a2 = BotProcess(
            "worker-a2", ["worker", "--workers", str(THREADS)], env("worker-a2"), logs
        )
        procs.append(worker_a2)

        def all_done() -> bool:
            rows = store.count("deliveries")
            open_rows = _outcomes(store) - {"done", "superseded"}
            return (
                rows == len(ids)
                and not open_rows
                and all(final_statuses(forge, c.head) for c in changes)
            )

        wait_until(all_done, 240, "every job to finish", interval=0.5)
        recovered_after = time.monotonic() - killed_at

        # -- the intake: one row per delivery id, whichever process got it first ----------
        for delivery, answers in sender.answers.items():
            codes = Counter(answers)
            assert codes[(202, "queued")] == 1, (delivery, answers)
            assert sum(codes.values()) == codes[(202, "queued")] + codes[(200, "duplicate")], (
                delivery,
                answers,
            )
        assert store.count("deliveries") == CHANGES * SHAS

        # -- the queue: nothing left over or stuck ---------------------------------------
        huey = make_huey(Config(queue_url=redis_url))
        wait_until(
            lambda: huey.pending_count() == 0 and huey.scheduled_count() == 0,
            30,
            "the queue to drain",
        )

        # -- per change: reviews, statuses, one comment -----------------------------------
        runs = _runs(store)
        coalesced = 0
        for change in changes:
            outcomes = [
                delivery_row(store, delivery_key("github", d))["outcome"] for d in change.deliveries
            ]
            assert set(outcomes) <= {"done", "superseded"}, (change.number, outcomes)
            for sha, outcome in zip(change.shas, outcomes):
                run = runs.get((change.number, sha))
                finals = final_statuses(forge, sha)
                coalesced += outcome == "superseded"
                # at most one review per SHA, and no status without its review
                assert len(finals) <= 1, (change.number, sha, finals)
                assert run is not None or not statuses(forge, sha), (change.number, sha)
            head_run = runs[(change.number, change.head)]
            assert head_run["state"] in ("success", "failure"), head_run
            [final] = final_statuses(forge, change.head)
            assert final["state"] == head_run["state"], (final, head_run)
            [comment] = forge.issue_comments(REPO, change.number)
            assert comment["user"]["login"] == "gitops-bot"
            assert str(comment["id"]) == head_run["comment_id"]
            if change is not slow:
                assert change.rev(SHAS - 1) in comment["body"], comment["body"][:2000]
        # Each review ran once, except the one worker A was killed in, which ran twice.
        attempts = {key: run["attempts"] for key, run in runs.items()}
        assert attempts.pop((slow.number, slow.head)) == 2
        assert set(attempts.values()) <= {1}, attempts
        assert delivery_row(store, slow_key)["attempts"] == 2
        assert [s["state"] for s in statuses(forge, slow.head)][-1] != "pending"
        assert "slow/default" in forge.issue_comments(REPO, slow.number)[0]["body"]
        assert coalesced > 0  # newer heads arrived before older ones were reviewed
        assert forge.violations == [], forge.violations

        for proc in (worker_b, worker_a2, *webs):
            assert proc.stop() == 0, f"{proc.name}: {proc.log()}"
        for proc in (worker_b, worker_a2):
            assert "lease lost" not in proc.log(10**7), proc.log()
        elapsed = time.monotonic() - started
        print(
            f"\nscale-out: {DELIVERIES} deliveries, {CHANGES} changes, {len(runs)} reviews, "
            f"{coalesced} heads coalesced, killed job re-run after {recovered_after:.1f}s, "
            f"{elapsed:.1f}s in all"
        )
    finally:
        for proc in procs:
            proc.stop(timeout=10)
        forge.stop()
        store.engine.dispose()


def _outcomes(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return {
            row[0]
            for row in conn.execute(
                deliveries.select().with_only_columns(deliveries.c.outcome).distinct()
            )
        }


def _runs(store: Store) -> dict[tuple[int, str], dict[str, object]]:
    with store.engine.connect() as conn:
        rows = conn.execute(review_runs.select()).mappings().all()
    return {(row["number"], row["head_sha"]): dict(row) for row in rows}
