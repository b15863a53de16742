"""Scale-out tests run against private Redis and PostgreSQL servers (tests/services.py)."""

from tests.services import postgres_server, postgres_url, private_redis, redis_server, redis_url

__all__ = ["postgres_server", "postgres_url", "private_redis", "redis_server", "redis_url"]
