"""Run a function every few seconds in a background thread while a block of code runs
(lease renewals, recovery passes, drift checks)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def every(
    interval: float, tick: Callable[[], object], name: str, join: bool = True
) -> Iterator[None]:
    """Call `tick()` every `interval` seconds until the block ends or `tick` returns False.

    An exception in `tick` is logged and the ticking goes on. With `join`, leaving the
    block waits for a running tick to finish.
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                if tick() is False:
                    return
            except Exception:
                log.exception("%s failed", name)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        if join:
            thread.join()
