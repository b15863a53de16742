"""Classify forge HTTP failures: which are Transient, and after how long
(docs/security.md#forge-rate-limits).

This module only reads status codes and headers; whether and when to retry is decided by
`bot.errors.retry_after`, so the forge clients' own retry/sleep loops are turned off.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping

from bot.errors import Transient

# GitHub: "If you exceed a secondary rate limit ... If the retry-after response header is
# present, wait that long; if x-ratelimit-remaining is 0, wait until x-ratelimit-reset;
# otherwise wait for at least one minute."
# https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
SECONDARY_LIMIT_WAIT = 60.0
# Statuses worth another try: rate limits and server-side trouble.
# 500 is included: both forges answer it for transient backend faults, and every write is an
# upsert, so a retry cannot duplicate anything.
RETRYABLE_5XX = frozenset({500, 502, 503, 504})
_SECONDARY_HINTS = (
    "secondary rate limit",
    "abuse detection",
    "please retry your request again later",
    "please wait a few minutes before you try again",
)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value).strip()
    return None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from `now` named by a Retry-After header (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def _reset_in(headers: Mapping[str, str] | None, now: float) -> float | None:
    # GitHub: x-ratelimit-reset is epoch seconds. GitLab: RateLimit-Reset is epoch seconds too
    # (https://docs.gitlab.com/administration/settings/user_and_ip_rate_limits/#response-headers).
    raw = _header(headers, "x-ratelimit-reset") or _header(headers, "ratelimit-reset")
    if raw is None or not raw.isdigit():
        return None
    return max(0.0, float(raw) - now)


def classify(
    status: int,
    headers: Mapping[str, str] | None,
    message: str,
    *,
    now: Callable[[], float] = time.time,
) -> Transient | None:
    """A Transient for a retryable HTTP failure (with the delay the forge asked for), else None."""
    t = now()
    after = parse_retry_after(_header(headers, "retry-after"), t)
    remaining = _header(headers, "x-ratelimit-remaining") or _header(headers, "ratelimit-remaining")
    lowered = message.lower()
    if status == 429 or (status == 403 and (after is not None or remaining == "0")):
        if after is None and remaining == "0":
            after = _reset_in(headers, t)
        return Transient(f"rate limited (HTTP {status})", retry_after=after)
    if status == 403 and any(hint in lowered for hint in _SECONDARY_HINTS):
        return Transient("secondary rate limit (HTTP 403)", retry_after=SECONDARY_LIMIT_WAIT)
    if status in RETRYABLE_5XX:
        return Transient(f"forge unavailable (HTTP {status})", retry_after=after)
    return None
