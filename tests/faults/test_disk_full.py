"""A worker whose data disk (workspaces, caches, job folders) is full: a 16 MB tmpfs in
the worker's own mount namespace, filled up before a change comes in. The review does not
fail the change for it and loses nothing: once space is freed, it completes, once."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import markers
from tests.e2e.loop import open_pr
from tests.faults.harness import GRACE, LEASE, Rig, assert_no_secret, rig, wait
from tests.conftest import delivery_row

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
ROOT = Path(__file__).resolve().parents[2]
FAULT = "before_pending"


class TmpfsWorker:
    """`gitops-bot worker` in a new mount namespace whose data dir is a small tmpfs."""

    def __init__(self, r: Rig, data: Path, size: str = "16m", **extra: str) -> None:
        data.mkdir(parents=True, exist_ok=True)
        self.data, self.log_path = data, r.tmp / "logs" / "tmpfs-worker.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = r.env(GITOPS_BOT_DATA_DIR=str(data), GITOPS_BOT_DATA_MIN_FREE_MB="4", **extra)
        script = f'mount -t tmpfs -o size={size},mode=0700 tmpfs "$1" && shift && exec "$@"'
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    "unshare",
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    script,
                    "sh",
                    str(data),
                    sys.executable,
                    "-m",
                    "bot",
                    "worker",
                    "--workers",
                    "1",
                ],
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # The worker's view of its data dir, from outside its namespace (we are root).
        self.view = Path(f"/proc/{self.proc.pid}/root") / str(data).lstrip("/")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def mounted(self) -> bool:
        try:
            return os.statvfs(self.view).f_blocks * os.statvfs(self.view).f_frsize < 64 << 20
        except OSError:
            return False

    def fill(self) -> None:
        """Write until the disk is full."""
        with open(self.view / "filler", "wb") as out:
            try:
                while True:
                    out.write(b"\0" * (1 << 20))
                    out.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

    def free(self) -> None:
        (self.view / "filler").unlink()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def test_a_full_data_disk_delays_the_review_and_loses_nothing(tmp_path: Path) -> None:
    with rig(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
    ) as r:
        worker = TmpfsWorker(r, tmp_path / "worker-data")
        try:
            wait(worker.mounted, 30, f"the worker's tmpfs: {worker.log()}")
            worker.fill()
            head = open_pr(r.loop, "change")
            wait(
                lambda: worker.log().count("less than 4 MB free") >= 3,
                30,
                f"the job to wait for space: {worker.log()}",
            )
            # Waiting, not failing: no status, no comment, the job queued with no attempt.
            assert r.review_statuses(head) == [] and r.loop.comments() == []
            [(key, outcome)] = r.open_deliveries()
            assert outcome == "queued"
            assert delivery_row(r.loop.services.store, key)["attempts"] == 0
            worker.free()
            freed = time.monotonic()
            wait(
                lambda: r.open_deliveries() == [],
                LEASE + GRACE,
                f"the review once space was freed: {worker.log()}",
            )
            assert time.monotonic() - freed <= LEASE + GRACE
            states = r.review_statuses(head)
            assert states == ["pending", "failure"], states
            [review] = r.loop.comments()
            assert markers.owns(review["body"], markers.REVIEW)
            assert "spec.replicas" in review["body"]
            assert list((worker.view / "jobs").iterdir()) == []
        finally:
            worker.stop()
        r.check()
        assert_no_secret([("log of the tmpfs worker", worker.log())])


def test_a_disk_that_fills_mid_review_says_nothing_until_the_retry_completes(
    tmp_path: Path,
) -> None:
    """The disk fills after the job was claimed (the worker held at a fault point past the
    free-space check): the review fails for lack of space and is retried, and meanwhile the
    change gets no "internal error" comment or final status (docs/security.md#case-102);
    once space is freed the retry posts the one review."""
    with rig(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
    ) as r:
        hold = tmp_path / "hold"
        hold.touch()
        worker = TmpfsWorker(
            r,
            tmp_path / "worker-data",
            GITOPS_BOT_FAULT_POINT=FAULT,
            GITOPS_BOT_FAULT_HOLD=str(hold),
        )
        try:
            wait(worker.mounted, 30, f"the worker's tmpfs: {worker.log()}")
            head = open_pr(r.loop, "change")
            wait(
                lambda: f"fault point {FAULT} reached" in worker.log(),
                90,
                f"the worker to reach {FAULT}: {worker.log()}",
            )
            worker.fill()
            hold.unlink()
            wait(
                lambda: "; retry 2 in" in worker.log() or not r.open_deliveries(),
                LEASE + GRACE,
                f"the job to fail for lack of space and wait for a retry: {worker.log()}",
            )
            assert r.loop.comments() == [], (r.review_statuses(head), worker.log())
            assert r.review_statuses(head) == ["pending"]
            worker.free()
            wait(
                lambda: r.open_deliveries() == [],
                LEASE + GRACE + 60,  # the retry of a full disk waits a minute
                f"the retried review: {worker.log()}",
            )
            assert r.review_statuses(head) == ["pending", "pending", "failure"]
            [review] = r.loop.comments()
            assert "spec.replicas" in review["body"]
        finally:
            worker.stop()
        r.check()
