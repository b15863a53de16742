"""`gitops-bot audit`: records of one repository from the service's store, --since, JSON,
and --sha for the chain of a commit (exit 1 when no passing review leads to it)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest

from bot.cli.audit import parse_since
from bot.store import Store

ROOT = Path(__file__).resolve().parents[2]
HEAD, MERGED, DIRECT = "a" * 40, "b" * 40, "c" * 40


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "audit", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "GITOPS_BOT_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/a.db"
    store = Store.from_url(url)
    store.upgrade()
    add = store.append_record
    add(
        "approval",
        "github",
        "github.com",
        "acme/shop",
        actor="alice",
        number=7,
        sha=HEAD,
        review_id="555",
        detail={"approved_sha": HEAD, "teams": []},
    )
    add(
        "review",
        "github",
        "github.com",
        "acme/shop",
        actor="gitops-bot",
        number=7,
        sha=HEAD,
        state="success",
        detail={"policy_revisions": {"server": "1" * 64}},
    )
    add(
        "deploy",
        "github",
        "github.com",
        "acme/shop",
        actor="gitops-bot",
        number=7,
        sha=MERGED,
        reviewed_sha=HEAD,
        environment="production",
        state="succeeded",
        detail={"approvers": ["alice"]},
    )
    add(
        "deploy",
        "github",
        "github.com",
        "acme/shop",
        actor="gitops-bot",
        sha=DIRECT,
        environment="production",
        state="refused",
        detail={"approvers": []},
    )
    add("approval", "github", "github.com", "acme/other", actor="zed", number=1, sha=HEAD)
    return url


def test_the_records_of_one_repository_oldest_first(url: str) -> None:
    done = run(url, "--repo", "github.com/acme/shop")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and "zed" not in done.stdout
    assert lines[0].endswith(
        f"github.com/acme/shop#7  approval by alice of {HEAD[:12]} (review 555)"
    )
    assert f"review success at {HEAD[:12]} (policies server@111111111111)" in lines[1]
    assert (
        f"deploy succeeded to production: {MERGED[:12]} (reviewed {HEAD[:12]}; approvers alice)"
    ) in lines[2]
    records = json.loads(run(url, "--repo", "acme/shop", "--format", "json").stdout)
    assert [r["kind"] for r in records] == ["approval", "review", "deploy", "deploy"]
    assert run(url, "--repo", "acme/shop", "--since", "2999-01-01").stdout == ""


def test_the_chain_of_a_commit(url: str) -> None:
    done = run(url, "--repo", "acme/shop", "--sha", MERGED, "--format", "json")
    assert done.returncode == 0, done.stderr
    chain = json.loads(done.stdout)
    assert (chain["reviewed_sha"], chain["changes"], chain["complete"]) == (HEAD, [7], True)
    assert [r["kind"] for r in chain["records"]] == ["deploy", "review", "approval"]
    unreviewed = run(url, "--repo", "acme/shop", "--sha", DIRECT)
    assert unreviewed.returncode == 1
    assert unreviewed.stdout.splitlines()[0] == f"{DIRECT[:12]}: reviewed at -, changes -"


def test_since_accepts_durations_and_dates() -> None:
    now = datetime(2024, 5, 10, 12, tzinfo=timezone.utc)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2024-05-01", now) == datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert parse_since("2024-05-01T10:00:00Z", now).hour == 10
    with pytest.raises(click.BadParameter, match="expected e.g. 7d"):
        parse_since("last tuesday", now)
