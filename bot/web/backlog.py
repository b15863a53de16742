"""The queue's bound at the intake (GITOPS_BOT_QUEUE_MAX), checked without a COUNT per
delivery: each process counts the pending jobs at most once per REFRESH seconds and adds the
deliveries it accepted since; it counts again before it refuses, so a refusal is exact and
an acceptance overshoots by at most what the other web processes took in that second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

REFRESH = 1.0  # seconds between two counts while the queue is below its bound


class Backlog:
    """Whether the queue holds `limit` pending jobs; `count(limit)` reads the store."""

    def __init__(
        self,
        count: Callable[[int], int],
        limit: int,
        refresh: float = REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count, self.limit, self._refresh, self._clock = count, limit, refresh, clock
        self._lock = threading.Lock()
        self._known, self._added, self._at = 0, 0, float("-inf")

    def full(self) -> int | None:
        """The number of pending jobs when the queue is full, else None (raises when the
        store is down)."""
        with self._lock:
            now = self._clock()
            if now - self._at >= self._refresh or self._known + self._added >= self.limit:
                self._known, self._added, self._at = self._count(self.limit), 0, now
            pending = self._known + self._added
            return pending if pending >= self.limit else None

    def accepted(self) -> None:
        """One more delivery recorded by this process since the last count."""
        with self._lock:
            self._added += 1
