"""Test-only fault points: stop a worker at a named step so a test can kill it there.

With `GITOPS_BOT_FAULT_POINT=<name>` in the environment when the process starts, the
first job thread that reaches `point(name)` writes "fault point <name> reached" to stderr
and blocks for good; the fault-injection tests (tests/faults/) then `kill -9` the process.
With `GITOPS_BOT_FAULT_HOLD=<file>` as well, it only waits while that file exists (a test
restarts a database under a job, then lets it go on). Without the variables — always, in
production — `point` returns at once. Points:
`before_pending` and `after_comment` (review job), `before_push` and `after_push` (deploy
to an environment branch), and `run:<tool> <first argument>` while that tool runs (e.g.
`run:helm template`: mid-render).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

ENV = "GITOPS_BOT_FAULT_POINT"
_ARMED = os.environ.get(ENV, "")  # read once, at start
_HOLD = os.environ.get("GITOPS_BOT_FAULT_HOLD", "")
_reached = threading.Event()
log = logging.getLogger(__name__)

if _ARMED:
    log.warning("fault point %s is armed (%s): for tests only", _ARMED, ENV)


def point(name: str) -> None:
    """Block this thread (for good, or while the hold file exists) when `name` is the armed
    fault point; only the first time it is reached."""
    if name != _ARMED or _reached.is_set():
        return
    _reached.set()
    sys.stderr.write(f"gitops-bot: fault point {name} reached (pid {os.getpid()})\n")
    sys.stderr.flush()
    if not _HOLD:
        threading.Event().wait()
    while os.path.exists(_HOLD):
        time.sleep(0.05)
