"""A review worker killed (SIGKILL) at each step: before its pending status, while helm
renders, after its comment but before its status. A healthy worker then finishes the job
within the lease plus a minute; one comment, one final status, no leftovers, no secret."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot import markers
from tests.conftest import git
from tests.e2e.loop import REPO, SLOW_TEMPLATE
from tests.faults.harness import GRACE, LEASE, Rig, rig

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def children(pid: int, name: str) -> list[int]:
    """Running processes called `name` whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        if comm.split("(", 1)[1] == name and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def helm_started(pid: int, within: float = 0.5) -> list[int]:
    """The helm children of `pid`, waiting up to `within` seconds for them: the fault point is
    reached when `setpriv` has started, a moment before it execs helm (bot/proc.py)."""
    deadline = time.monotonic() + within
    while not (found := children(pid, "helm")) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def slow_chart(r: Rig) -> None:
    """A helm app whose render takes a second or two, changed by the `change` branch."""
    repo = r.loop.repo
    git(repo, "checkout", "-q", "main")
    config = repo / ".gitops-bot.yaml"
    config.write_text(
        config.read_text() + "  slow: {renderer: helm, path: charts/slow, namespace: slow}\n"
    )
    for name, text in {
        "Chart.yaml": "apiVersion: v2\nname: slow\nversion: 0.1.0\n",
        "values.yaml": "spin: 2000000\n",
        "templates/cm.yaml": SLOW_TEMPLATE,
    }.items():
        (repo / "charts/slow" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / "charts/slow" / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a slow chart")
    git(repo, "checkout", "-q", "change")
    git(repo, "rebase", "-q", "main")
    (repo / "charts/slow/values.yaml").write_text("spin: 2100000\n")
    git(repo, "commit", "-qam", "slow: spin more")
    git(repo, "checkout", "-q", "main")


@pytest.mark.parametrize("fault", ["before_pending", "run:helm template", "after_comment"])
def test_review_worker_killed_at_each_step(tmp_path: Path, fault: str) -> None:
    with rig(tmp_path) as r:
        if fault == "run:helm template":
            slow_chart(r)
        head = r.loop.head("change")
        r.loop.forge.add_pull(
            REPO,
            1,
            head_sha=head,
            base_sha=r.loop.head("main"),
            files=["apps/web/deployment.yaml", "charts/slow/values.yaml"],
        )
        open_pr_delivery(r, head)
        helm: list[int] = []
        dead, killed_at = r.kill_at(fault, before_kill=lambda p: helm.extend(helm_started(p.pid)))
        if fault == "run:helm template":
            assert helm, "helm was not running when the worker was killed"
            # helm has a second or more of rendering left: it must die with its worker at
            # once, not when it finds nobody reading its output
            deadline = time.monotonic() + 0.7
            while any(map(running, helm)) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not any(map(running, helm)), "helm outlived its worker"
        assert list((r.data / "jobs").iterdir()), "the killed job's folder should be there"
        comments_before = len(r.loop.comments())
        assert comments_before == (1 if fault == "after_comment" else 0)

        elapsed = r.finish(killed_at)
        assert elapsed <= LEASE + GRACE
        states = r.review_statuses(head)
        assert states[-1] == "failure" and states.count("failure") == 1, states
        [review] = [c for c in r.loop.comments() if markers.owns(c["body"], markers.REVIEW)]
        assert "spec.replicas" in review["body"]
        r.check()


def open_pr_delivery(r: Rig, head: str) -> None:
    from tests.e2e.loop import pr_payload

    code, answer = r.loop.deliver("pull_request", pr_payload("opened", head, r.loop.head("main")))
    assert code == 202, answer
