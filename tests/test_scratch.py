"""Job folders under the data dir: made and removed per job, locked while the job runs,
collected when a killed worker left them; temporary folders of a job go inside it, in
every thread of the job."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot import scratch
from bot.render.sandbox import private_dir

ROOT = Path(__file__).resolve().parents[1]


def test_a_jobs_temporary_folders_live_in_its_folder_in_every_thread(tmp_path: Path) -> None:
    assert scratch.current() is None
    with scratch.job_dir(tmp_path, "github:d-1") as job:
        assert job.parent == tmp_path / "jobs" and job.name.startswith("github_d-1-")
        with private_dir() as render:
            assert render.parent == job.resolve()
        with ThreadPoolExecutor(2) as pool:
            made = list(pool.map(scratch.in_context(lambda _: scratch.mkdtemp("x-")), [1, 2]))
        assert {p.parent for p in made} == {job}
        with scratch.temporary("y-") as other:
            assert other.parent == job
    assert not job.exists() and list((tmp_path / "jobs").iterdir()) == []
    assert scratch.mkdtemp("cli-").parent != job  # outside a job: the system's folder


def test_collect_removes_what_a_killed_worker_left_and_spares_running_jobs(tmp_path: Path) -> None:
    probe = subprocess.Popen(
        [sys.executable, "-m", "tests.deathprobe", "job", str(tmp_path)], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "job.path").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        dead = Path((tmp_path / "job.path").read_text())
        with scratch.job_dir(tmp_path, "github:running") as running:
            assert scratch.collect(tmp_path) == 0  # both held: the probe is alive
            probe.kill()
            probe.wait(10)
            assert dead.exists() and any(dead.glob("gitops-bot-render-*/x.yaml"))
            assert scratch.collect(tmp_path) == 1
            assert not dead.exists() and running.exists()
    finally:
        probe.kill()
        probe.wait(10)


def test_collect_removes_an_unlocked_folder_only_once_it_is_old(tmp_path: Path) -> None:
    half_made = tmp_path / "jobs" / "github_d-2-0123abcd"
    half_made.mkdir(parents=True)
    assert scratch.collect(tmp_path, min_age=60) == 0
    assert scratch.collect(tmp_path, min_age=-1) == 1 and not half_made.exists()
