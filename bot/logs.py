"""Logging: one redacted JSON object per line, with the delivery, repository, change, SHA and
job of whatever the current thread is working on (set by `log_context`)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, TextIO

from bot.config import Secret
from bot.redact import MASK, redact

# The contextual fields, in the order they appear in a log line.
FIELDS = ("delivery_id", "repository", "change_number", "sha", "job_id")

_context: ContextVar[Mapping[str, Any]] = ContextVar(
    "gitops_bot_log_context", default=MappingProxyType({})
)
_HANDLER_NAME = "gitops-bot"
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` (None values skipped) to every log line written inside the block.

    Nested blocks add to the outer fields; contextvars keep threads and tasks apart.
    """
    added = {k: v for k, v in fields.items() if v is not None}
    token = _context.set(MappingProxyType({**_context.get(), **added}))
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> Mapping[str, Any]:
    """The fields `log_context` set for the current thread or task."""
    return _context.get()


class _Masker:
    """redact() plus known secret values (the Config's Secrets), which no pattern can spot."""

    def __init__(self, secrets: Iterable[Secret | str] = ()) -> None:
        values = (s.reveal() if isinstance(s, Secret) else s for s in secrets)
        # Longest first, so a secret containing another is masked whole; short ones would
        # mask ordinary words, so they are left to the patterns.
        self.values = sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Secret):
            return MASK
        if isinstance(value, str):
            for secret in self.values:
                value = value.replace(secret, MASK)
            return redact(value)
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        if isinstance(value, Mapping):
            return {str(k): self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self(v) for v in value]
        return self(str(value))


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the context fields, extras and the exception, masked."""

    def __init__(self, mask: _Masker | None = None) -> None:
        super().__init__()
        self.mask = mask or _Masker()

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(_context.get())
        # `extra={...}` fields become keys of their own (they may not replace the above).
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in data and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(self.mask(data), ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic one-line format for terminals, with the context fields and masking."""

    def __init__(self, mask: _Masker | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.mask = mask or _Masker()

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{k}={v}" for k, v in _context.get().items())
        return str(self.mask(f"{line} [{fields}]" if fields else line))


def configure_logging(
    level: str | int = "INFO",
    json: bool = True,
    stream: TextIO | None = None,
    secrets: Iterable[Secret | str] = (),
) -> logging.Handler:
    """Send every log record to `stream` (stderr) as masked JSON lines (or text).

    `secrets`: values masked wherever they appear (webhook secrets, tokens). Calling it again
    replaces the handler it installed before. Returns the handler.
    """
    mask = _Masker(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter(mask) if json else TextFormatter(mask))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return handler
