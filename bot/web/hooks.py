"""Webhook intake: verify on the raw body, parse to an Event, store the delivery, enqueue, 202."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge

from bot.config import Secret
from bot.errors import Ignored, UserError
from bot.logs import log_context
from bot.model import Event
from bot.outcomes import HookReply
from bot.store import delivery_key, event_to_dict
from bot.web import queue_bound, services
from bot.metrics import count_delivery, delivery_refused

bp = Blueprint("hooks", __name__)
log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 64  # real payloads nest < 10 deep (docs/security.md#case-53)
QUEUE_FULL_RETRY_AFTER = 60  # seconds, in the 503's Retry-After when the queue is full
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
_EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_ ]{0,63}")

Parser = Callable[[str, str, dict[str, Any], str], Any]
# The deliveries metric's outcome for refusals, by HTTP status.
_REFUSED = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_configured",
    413: "too_large",
    415: "bad_request",
    503: "unavailable",
}


def github_signature(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def github_authentic(headers: Headers, body: bytes, secret: Secret) -> bool:
    """HMAC-SHA256 of the exact body bytes, compared in constant time; SHA-1 is never enough."""
    values = headers.getlist("X-Hub-Signature-256")
    if len(values) != 1:
        return False
    match = _SIGNATURE.fullmatch(values[0].strip())
    if not match:
        return False
    expected = hmac.new(secret.reveal().encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match.group(1).lower())


def gitlab_authentic(headers: Headers, body: bytes, secret: Secret) -> bool:
    """`X-Gitlab-Token` equals the secret exactly (constant time, no trimming)."""
    values = headers.getlist("X-Gitlab-Token")
    if len(values) != 1:
        return False
    # WSGI headers are latin-1 strings; compare bytes so any header value is comparable.
    given = values[0].encode("latin-1", errors="replace")
    return hmac.compare_digest(given, secret.reveal().encode())


def github_delivery(headers: Headers, body: bytes) -> str | None:
    """The delivery GUID (`X-GitHub-Delivery`), constant across redeliveries."""
    return headers.get("X-GitHub-Delivery")


def gitlab_delivery(headers: Headers, body: bytes) -> str | None:
    """`Idempotency-Key` (constant across retries, GitLab 17.4+), else `X-Gitlab-Event-UUID`."""
    found = headers.get("Idempotency-Key") or headers.get("X-Gitlab-Event-UUID")
    # Older GitLab sends neither: the body itself identifies a retry of the same event.
    return found or "body-" + hashlib.sha256(body).hexdigest()[:40]


@dataclass(frozen=True)
class Intake:
    """How one forge authenticates, names and identifies its deliveries."""

    event_header: str
    authentic: Callable[[Headers, bytes, Secret], bool]
    delivery_id: Callable[[Headers, bytes], str | None]
    parser: str  # "module:function", imported on first use (keeps API clients out of here)


INTAKES = {
    "github": Intake(
        "X-GitHub-Event", github_authentic, github_delivery, "bot.forges.github_parse:parse_github"
    ),
    "gitlab": Intake(
        "X-Gitlab-Event", gitlab_authentic, gitlab_delivery, "bot.forges.gitlab_parse:parse_gitlab"
    ),
}


@cache
def _parser(spec: str) -> Parser:
    module, _, name = spec.partition(":")
    found: Parser = getattr(importlib.import_module(module), name)
    return found


def _reply(code: int, status: HookReply, **fields: Any) -> tuple[Response, int]:
    g.hook_status = status
    return jsonify(status=status, **fields), code


@bp.after_request
def _count(response: Response) -> Response:
    # One count per request. The event label is only set once the sender is authenticated
    # (in _accept), so unsigned requests cannot mint new label values.
    forge = (request.view_args or {}).get("forge", "")
    status = g.get("hook_status", HookReply.ERROR)
    if status == HookReply.ERROR:
        status = _REFUSED.get(response.status_code, "error")
    count_delivery(forge if forge in INTAKES else "unknown", g.get("hook_event", "unknown"), status)
    return response


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# A UTF-16 surrogate escape (`\ud83d`): valid only as a high + low pair.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def load_json(body: bytes) -> dict[str, Any] | str:
    """The JSON object in `body`, or a message saying why it is refused.

    GitHub and GitLab send UTF-8 JSON (RFC 8259 section 8.1): a byte-order mark, UTF-16 or
    UTF-32, NaN / Infinity and unpaired surrogates are refused, as no forge sends them.
    """
    if body.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:4]:
        return "body must be UTF-8 JSON without a byte-order mark"
    try:
        text = body.decode("utf-8")
        payload = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    except UnicodeDecodeError:
        return "body is not valid UTF-8"
    except ValueError:
        return "body is not valid JSON"
    if not isinstance(payload, dict):
        return "JSON body must be an object"
    if _too_deep(payload, MAX_JSON_DEPTH):  # ~20 us for a 20 KB payload
        return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    if _SURROGATE.search(text):  # rare: check that every escape formed a pair
        try:
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "JSON contains an unpaired UTF-16 surrogate"
    return payload


@bp.post("/hooks/<forge>")
def receive(forge: str) -> tuple[Response, int]:
    """Accept one webhook delivery from `forge` (see the module docstring for the order)."""
    intake = INTAKES.get(forge)
    svc = services()
    secret = svc.config.webhook_secret(forge)
    if intake is None or not (secret and secret.reveal()):
        return _reply(404, HookReply.ERROR, error=f"no {forge} webhook is configured here")
    limit = svc.config.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _reply(413, HookReply.ERROR, error=f"body larger than {limit} bytes")
    if request.mimetype != "application/json":
        return _reply(415, HookReply.ERROR, error="Content-Type must be application/json")
    try:
        # Chunked bodies: the stream stops one byte past the limit (see create_app).
        body: bytes | None = request.get_data(cache=False)
    except RequestEntityTooLarge:
        body = None
    if body is None or len(body) > limit:
        return _reply(413, HookReply.ERROR, error=f"body larger than {limit} bytes")
    if not intake.authentic(request.headers, body, secret):
        return _reply(401, HookReply.ERROR, error="signature or token does not match")
    return _accept(forge, intake, body)


def _accept(forge: str, intake: Intake, body: bytes) -> tuple[Response, int]:
    event_name = request.headers.get(intake.event_header, "")
    delivery_id = intake.delivery_id(request.headers, body) or ""
    if not _EVENT_NAME.fullmatch(event_name):
        return _reply(
            400, HookReply.ERROR, error=f"missing or invalid {intake.event_header} header"
        )
    g.hook_event = event_name
    if not _DELIVERY_ID.fullmatch(delivery_id):
        return _reply(400, HookReply.ERROR, error="missing or invalid delivery id header")
    payload = load_json(body)
    if isinstance(payload, str):
        return _reply(400, HookReply.ERROR, error=payload)
    svc = services()
    host = svc.config.forge_host(forge)
    try:
        result = _parser(intake.parser)(event_name, delivery_id, payload, host)
    except Ignored as exc:
        result = exc
    except (UserError, ValueError, KeyError, TypeError) as exc:
        log.info("delivery %s: malformed %s payload: %s", delivery_id, event_name, exc)
        return _reply(400, HookReply.ERROR, error=f"malformed {event_name} payload: {exc}")
    if isinstance(result, Ignored):
        return _reply(200, HookReply.IGNORED, delivery=delivery_id, reason=result.reason)
    event: Event = result
    with log_context(
        delivery_id=delivery_key(event.forge, event.delivery_id),
        repository=f"{event.host}/{event.repo}",
        change_number=event.number,
        sha=event.head_sha,
    ):
        return _enqueue(event, event_name)


def _enqueue(event: Event, event_name: str) -> tuple[Response, int]:
    svc = services()
    key = delivery_key(event.forge, event.delivery_id)
    if not svc.config.allows(event.host, event.repo):
        try:
            svc.store.audit(
                event.sender,
                "delivery.not_allowlisted",
                f"{event.host}/{event.repo}",
                event.number,
                event.head_sha,
                {"delivery": event.delivery_id, "event": event_name, "action": event.action},
            )
        except Exception:
            log.exception("delivery %s: audit write failed", key)
            return _reply(503, HookReply.ERROR, error="store unavailable, retry later")
        return _reply(
            200,
            HookReply.IGNORED,
            delivery=event.delivery_id,
            reason="repository is not in the allowlist",
        )
    if event.is_fork and svc.config.fork_mode == "skip":
        return _reply(
            200,
            HookReply.IGNORED,
            delivery=event.delivery_id,
            reason="fork pull requests are skipped (GITOPS_BOT_FORK_MODE=skip)",
        )
    try:
        pending = queue_bound().full()  # a count at most once a second (bot.web.backlog)
        if pending is not None:
            return _queue_full(key, pending)
        fresh = svc.store.record_delivery(event, event_name)
        # A redelivery of a delivery whose job failed for good gets it retried (once).
        if not fresh and not svc.store.requeue_final(key):
            return _reply(200, HookReply.DUPLICATE, delivery=event.delivery_id)
        queue_bound().accepted()
    except Exception:
        log.exception("delivery %s: store unavailable", key)
        return _reply(503, HookReply.ERROR, error="store unavailable, retry later")
    try:
        svc.queue.enqueue(key, event_to_dict(event))
    except Exception:
        log.exception("delivery %s: queue unavailable", key)
        try:
            svc.store.forget_delivery(key)  # so the forge's redelivery is accepted, not a dup
        except Exception:
            log.exception("delivery %s: could not forget; worker start will recover it", key)
        return _reply(503, HookReply.ERROR, error="queue unavailable, retry later")
    log.info(
        "delivery %s queued: %s %s %s#%s", key, event_name, event.action, event.repo, event.number
    )
    return _reply(
        202, HookReply.QUEUED if fresh else HookReply.REQUEUED, delivery=event.delivery_id
    )


def _queue_full(key: str, pending: int) -> tuple[Response, int]:
    """503 + Retry-After, nothing recorded: the forge's redelivery is accepted once the
    workers catch up (docs/security.md#case-62)."""
    log.warning("delivery %s refused: %d jobs pending (GITOPS_BOT_QUEUE_MAX)", key, pending)
    delivery_refused("queue_full")
    response, code = _reply(
        503,
        HookReply.ERROR,
        reason="queue_full",
        error=f"{pending} jobs are pending (GITOPS_BOT_QUEUE_MAX); retry later",
    )
    response.headers["Retry-After"] = str(QUEUE_FULL_RETRY_AFTER)
    return response, code
