"""The wiring of a process: the store, the queue and the job handlers, built once from Config."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from bot.config import Config
from bot.errors import ConfigError
from bot.queue import HandlerFactory, Handlers, Queue
from bot.store import Store


def load_handlers(config: Config, store: Store) -> Handlers:
    """Build the handlers named by `config.job_handlers` ("package.module:factory")."""
    module_name, _, attr = config.job_handlers.partition(":")
    try:
        factory: HandlerFactory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"cannot load {config.job_handlers!r}: {exc}", key="GITOPS_BOT_JOB_HANDLERS"
        ) from None
    return factory(config, store)


@dataclass(frozen=True)
class Services:
    """Everything a process needs, built once from the Config and passed down."""

    config: Config
    store: Store
    queue: Queue

    @classmethod
    def build(cls, config: Config, *, migrate: bool = True) -> Services:
        """Open the store (migrating it) and the queue, and load the job handlers."""
        store = Store.from_url(config.database, config.sqlite_synchronous)
        if migrate:
            store.upgrade()
        return cls(config, store, Queue(config, store, load_handlers(config, store)))
