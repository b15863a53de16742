"""e2e fixtures: the review loop (see tests/e2e/loop.py)."""

from tests.e2e.loop import loop  # noqa: F401  (the fixture)
