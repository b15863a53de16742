"""Where a job's files live: one folder per job under the data dir, removed when the job ends
and collected when its worker died (docs/security.md#case-109).

`job_dir(data_dir, job_id)` makes `<data_dir>/jobs/<job_id>/` and holds an exclusive
`flock` on its `.lock` file while the job runs; the kernel drops that lock when the process
dies, even by `kill -9`. `collect(data_dir)` removes every job folder whose lock it can
take, at a worker's start and periodically. Code that needs a temporary folder asks
`mkdtemp` / `temporary`: inside a job they make it in the job's folder (a context variable,
carried into thread pools by `in_context`), elsewhere (the CLI) in the system's.
"""

from __future__ import annotations

import contextvars
import fcntl
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

JOBS = "jobs"
LOCK = ".lock"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_current: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "gitops_bot_job_dir", default=None
)
T = TypeVar("T")


def current() -> Path | None:
    """The folder of the job running in this context, None outside jobs."""
    return _current.get()


def mkdtemp(prefix: str, fallback: Path | None = None) -> Path:
    """A new private folder in the current job's folder (else in `fallback`, else the
    system's temporary folder); the caller removes it."""
    where = _current.get() or fallback
    if where is not None:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=where))


@contextmanager
def temporary(prefix: str) -> Iterator[Path]:
    """Like `tempfile.TemporaryDirectory`, in the current job's folder."""
    path = mkdtemp(prefix)
    try:
        yield path
    finally:
        remove(path)


def in_context(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` running with the caller's context (job folder, log fields) in any thread."""
    context = contextvars.copy_context()
    return lambda *args: context.copy().run(fn, *args)


def _name(job_id: str) -> str:
    safe = _UNSAFE.sub("_", job_id).strip("._")[:120]
    return f"{safe or 'job'}-{uuid.uuid4().hex[:8]}"


@contextmanager
def job_dir(data_dir: Path, job_id: str) -> Iterator[Path]:
    """The job's own folder, locked while the block runs and removed after it."""
    jobs = data_dir / JOBS
    jobs.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = _name(job_id)
    # Made under a hidden name and renamed once locked, so `collect` never sees it unlocked.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=jobs))
    fd = os.open(staging / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = jobs / name
        staging.rename(path)
        token = _current.set(path)
        try:
            yield path
        finally:
            _current.reset(token)
            remove(path)
    finally:
        os.close(fd)


def short_of_space(data_dir: Path, min_free_mb: int) -> bool:
    """Whether the data disk holding `data_dir` has less than `min_free_mb` MB free."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(data_dir).free < min_free_mb * 2**20


def collect(data_dir: Path, min_age: float = 600.0) -> int:
    """Remove the folders of jobs that no live process holds; returns how many.

    A folder without a lock (a worker killed while making it) is removed once it is older
    than `min_age` seconds.
    """
    jobs = data_dir / JOBS
    try:
        entries = list(jobs.iterdir())
    except FileNotFoundError:
        return 0
    removed = 0
    for entry in entries:
        if entry.name.startswith(".") and not _older(entry, min_age):
            continue  # being made right now
        if not entry.is_dir() or entry.is_symlink():
            continue
        try:
            fd = os.open(entry / LOCK, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            if _older(entry, min_age):
                remove(entry)
                removed += 1
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            remove(entry)
            removed += 1
        except BlockingIOError:
            pass  # a running job holds it
        finally:
            os.close(fd)
    return removed


def _older(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False


def remove(path: Path) -> None:
    """Remove a folder tree, whatever modes a tool left on it."""
    shutil.rmtree(path, onerror=_unlock_and_retry)


def _unlock_and_retry(func: Callable[..., object], name: str, exc: object) -> None:
    # A tool may leave read-only dirs behind; open them up and try once more.
    try:
        os.chmod(os.path.dirname(name), 0o700)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, 0o700)
            shutil.rmtree(name, ignore_errors=True)
        else:
            os.unlink(name)
    except OSError:
        pass
