"""Bounded input: body size (Content-Length and chunked), content type, JSON depth
(docs/security.md#bounded-resources)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client import REGISTRY

from bot.web.backlog import Backlog
from tests.web.appserver import Bot, make_config
from tests.web.hookclient import SECRET, fixture, post, sign

MB = 1024 * 1024
PR_OPENED = fixture("github/pull_request/opened.payload.json")


def _headers(body: bytes, content_type: str = "application/json") -> list[tuple[str, str]]:
    return [
        ("Content-Type", content_type),
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", "limits-1"),
        ("X-Hub-Signature-256", sign(body)),
    ]


def _raw_request(bot: Bot, head: bytes, send_body: None | object = None) -> bytes:
    """Send raw bytes; return everything the server answers (until it closes)."""
    parts = urlsplit(bot.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    answer = bytearray()

    def reader() -> None:
        try:
            while chunk := sock.recv(65536):
                answer.extend(chunk)
        except OSError:
            pass

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        sock.sendall(head)
        if callable(send_body):
            send_body(sock)
    except OSError:
        pass  # the server stopped reading and closed: its answer is what matters
    thread.join(30)
    sock.close()
    return bytes(answer)


def test_content_length_over_cap_is_413_before_the_body_is_read(bot: Bot) -> None:
    head = (
        b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: big-1\r\n"
        b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\n"
        b"Content-Length: " + str(30 * MB).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    # No body is ever sent: the answer can only come from the Content-Length check.
    answer = _raw_request(bot, head, lambda sock: sock.shutdown(socket.SHUT_WR))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert bot.store.count("deliveries") == 0


def test_chunked_body_over_cap_is_413(bot: Bot) -> None:
    head = (
        b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: big-2\r\n"
        b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    chunk = b"%x\r\n" % MB + b" " * MB + b"\r\n"

    def send(sock: socket.socket) -> None:
        for _ in range(30):
            sock.sendall(chunk)
        sock.sendall(b"0\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)

    answer = _raw_request(bot, head, send)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert bot.store.count("deliveries") == 0


def test_body_just_under_cap_is_read(tmp_path, serve) -> None:
    from tests.web.appserver import make_config

    bot = serve(make_config(tmp_path, max_body_bytes=len(PR_OPENED)), None)
    status, _ = post(bot.url, "/hooks/github", PR_OPENED, _headers(PR_OPENED))
    assert status == 202
    bigger = PR_OPENED + b" "
    status, _ = post(bot.url, "/hooks/github", bigger, _headers(bigger))
    assert status == 413


def test_form_encoded_is_415(bot: Bot) -> None:
    body = b"payload=" + json.dumps(json.loads(PR_OPENED)).encode()
    status, answer = post(
        bot.url, "/hooks/github", body, _headers(body, "application/x-www-form-urlencoded")
    )
    assert status == 415
    assert "application/json" in answer["error"]
    assert bot.store.count("deliveries") == 0


def test_missing_content_type_is_415(bot: Bot) -> None:
    headers = [h for h in _headers(PR_OPENED) if h[0] != "Content-Type"]
    status, _ = post(bot.url, "/hooks/github", PR_OPENED, headers)
    assert status == 415


def test_json_with_charset_is_accepted(bot: Bot) -> None:
    status, _ = post(
        bot.url, "/hooks/github", PR_OPENED, _headers(PR_OPENED, "application/json; charset=utf-8")
    )
    assert status == 202


def test_json_nested_100000_levels_is_400(bot: Bot) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    status, answer = post(bot.url, "/hooks/github", body, _headers(body))
    assert status == 400
    assert "nested" in answer["error"]
    # The server survived it and still works.
    status, _ = post(bot.url, "/hooks/github", PR_OPENED, _headers(PR_OPENED))
    assert status == 202


def test_json_nested_beyond_the_depth_budget_is_400(bot: Bot) -> None:
    body = b'{"action": "opened", "x": ' + b"[" * 100 + b"]" * 100 + b"}"
    status, answer = post(bot.url, "/hooks/github", body, _headers(body))
    assert (status, "nested" in answer["error"]) == (400, True)


def test_invalid_json_and_non_object_are_400(bot: Bot) -> None:
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"'):
        status, _ = post(bot.url, "/hooks/github", body, _headers(body))
        assert status == 400, body
    assert bot.store.count("deliveries") == 0


def test_missing_event_or_delivery_header_is_400(bot: Bot) -> None:
    base = [("Content-Type", "application/json"), ("X-Hub-Signature-256", sign(PR_OPENED))]
    status, _ = post(bot.url, "/hooks/github", PR_OPENED, base + [("X-GitHub-Delivery", "d-9")])
    assert status == 400
    status, _ = post(
        bot.url, "/hooks/github", PR_OPENED, base + [("X-GitHub-Event", "pull_request")]
    )
    assert status == 400
    status, _ = post(
        bot.url,
        "/hooks/github",
        PR_OPENED,
        base + [("X-GitHub-Event", "pull_request"), ("X-GitHub-Delivery", "../../etc/passwd")],
    )
    assert status == 400
    assert bot.store.count("deliveries") == 0


def test_payload_with_bad_head_sha_is_400(bot: Bot) -> None:
    data = json.loads(PR_OPENED)
    data["pull_request"]["head"]["sha"] = "not-a-sha"
    body = json.dumps(data).encode()
    status, _ = post(bot.url, "/hooks/github", body, _headers(body))
    assert status == 400
    data["pull_request"]["head"]["sha"] = "a" * 40
    data["number"] = data["pull_request"]["number"] = -1
    body = json.dumps(data).encode()
    status, _ = post(bot.url, "/hooks/github", body, _headers(body))
    assert status == 400
    assert bot.store.count("deliveries") == 0
    assert SECRET  # the secret is only ever used to sign


def test_bodies_that_are_not_utf8_json_are_400(bot: Bot) -> None:
    """GitHub and GitLab send UTF-8 only: a BOM, UTF-16/32, NaN and unpaired surrogates
    are refused before anything is queued (they were all queued, 202, before)."""
    text = PR_OPENED.decode()
    bodies = {
        "utf-8 with BOM": b"\xef\xbb\xbf" + PR_OPENED,
        "utf-16": text.encode("utf-16"),
        "utf-16-le": text.encode("utf-16-le"),
        "utf-32": text.encode("utf-32"),
        "NaN": PR_OPENED.replace(b'"number": 2,', b'"number": 2, "x": NaN,', 1),
        "Infinity": PR_OPENED.replace(b'"number": 2,', b'"number": 2, "x": -Infinity,', 1),
        "lone surrogate": PR_OPENED.replace(b'"number": 2,', b'"number": 2, "x": "\\ud800",', 1),
    }
    for name, body in bodies.items():
        assert body != PR_OPENED, name
        status, answer = post(bot.url, "/hooks/github", body, _headers(body))
        assert status == 400, (name, answer)
    assert bot.store.count("deliveries") == 0
    paired = PR_OPENED.replace(b'"number": 2,', b'"number": 2, "x": "\\ud83d\\ude00",', 1)
    assert post(bot.url, "/hooks/github", paired, _headers(paired))[0] == 202


def _post_with_headers(
    bot: Bot, body: bytes, delivery: str
) -> tuple[int, dict[str, str], dict[str, object]]:
    headers = [
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", delivery),
        ("X-Hub-Signature-256", sign(body)),
    ]
    parts = urlsplit(bot.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("POST", "/hooks/github", body, dict(headers))
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), json.loads(resp.read())
    finally:
        conn.close()


def _refused() -> float:
    return (
        REGISTRY.get_sample_value("gitops_bot_deliveries_refused_total", {"reason": "queue_full"})
        or 0.0
    )


def test_a_full_queue_answers_503_and_records_nothing(tmp_path: Path, serve) -> None:
    """GITOPS_BOT_QUEUE_MAX pending jobs: 503 with a reason and Retry-After, the delivery
    not recorded, a counter for the alert; once workers catch up the forge's redelivery is
    accepted (docs/security.md#case-62)."""
    bot = serve(make_config(tmp_path, queue_max=2), None)
    before = _refused()
    for n in (1, 2):
        assert bot.github("pull_request", PR_OPENED, delivery=f"flood-{n}")[0] == 202
    status, headers, answer = _post_with_headers(bot, PR_OPENED, "flood-3")
    assert (status, answer["status"], answer["reason"]) == (503, "error", "queue_full")
    assert headers["Retry-After"] == "60"
    assert "GITOPS_BOT_QUEUE_MAX" in str(answer["error"])
    assert bot.store.delivery("github:flood-3") is None
    assert bot.store.count("deliveries") == 2 and bot.queue.size() == 2
    assert _refused() == before + 1
    assert bot.drain() == ["done", "done"]
    assert bot.store.pending_jobs(10) == 0
    status, answer = bot.github("pull_request", PR_OPENED, delivery="flood-3")
    assert (status, answer["status"]) == (202, "queued")
    assert _refused() == before + 1


def test_the_bound_counts_once_a_second_and_again_before_it_refuses() -> None:
    counts: list[int] = []
    pending, now = [0], [0.0]

    def count(limit: int) -> int:
        counts.append(limit)
        return min(pending[0], limit)

    bound = Backlog(count, 3, clock=lambda: now[0])
    assert bound.full() is None and counts == [3]
    bound.accepted()
    bound.accepted()
    assert bound.full() is None and len(counts) == 1  # 2 of 3 known: no count this second
    bound.accepted()
    pending[0] = 1  # the workers finished two meanwhile: counted before refusing
    assert bound.full() is None and len(counts) == 2
    now[0] = 1.0
    pending[0] = 3
    assert bound.full() == 3 and len(counts) == 3
    assert bound.full() == 3 and len(counts) == 4  # full: every check counts again
