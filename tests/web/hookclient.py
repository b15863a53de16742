"""Test helpers: load real payload examples, sign them like the forges do, POST over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SECRET = "test-webhook-secret-4f1c"
GL_TOKEN = "test-gitlab-token-9e2a"
SHA_A = "a" * 40
SHA_B = "b" * 40


def fixture(rel: str) -> bytes:
    """Bytes of a payload example under tests/fixtures/webhooks/."""
    return (FIXTURES / rel).read_bytes()


def sign(body: bytes, secret: str = SECRET) -> str:
    """`X-Hub-Signature-256` for body, computed independently of the bot's code."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def with_head(body: bytes, sha: str) -> bytes:
    """A pull_request payload whose head commit is `sha` (re-serialised, then signed anew)."""
    data = json.loads(body)
    data["pull_request"]["head"]["sha"] = sha
    return json.dumps(data).encode()


def github_headers(
    event: str, body: bytes, delivery: str | None = None, secret: str = SECRET
) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", delivery or str(uuid.uuid4())),
        ("X-Hub-Signature-256", sign(body, secret)),
        ("User-Agent", "GitHub-Hookshot/test"),
    ]


def gitlab_headers(
    event: str, delivery: str | None = None, token: str | None = GL_TOKEN
) -> list[tuple[str, str]]:
    headers = [
        ("Content-Type", "application/json"),
        ("X-Gitlab-Event", event),
        ("Idempotency-Key", delivery or str(uuid.uuid4())),
    ]
    if token is not None:
        headers.append(("X-Gitlab-Token", token))
    return headers


def post(
    url: str, path: str, body: bytes, headers: list[tuple[str, str]]
) -> tuple[int, dict[str, Any]]:
    """POST with exactly these header lines (duplicates allowed); status and JSON answer."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        conn.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {"raw": raw.decode(errors="replace")}
    return resp.status, answer


def get(url: str, path: str) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()
