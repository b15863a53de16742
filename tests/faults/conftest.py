"""Fault-injection fixtures: private Redis servers (tests/services.py) for the restart tests."""

from tests.services import private_redis

__all__ = ["private_redis"]
