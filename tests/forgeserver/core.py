"""A threaded loopback HTTP server base: routing, recording, request checks, fault scripts."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.loopback import serve, shutdown


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str  # without the API prefix and query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # parsed JSON, or None
    raw: bytes
    at: float
    status: int = 0  # what the server answered


@dataclass
class Reply:
    """What a route handler answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (slow-forge faults)


@dataclass
class Fault:
    """Answer the next `times` matching requests with `status` (+ headers/body) instead."""

    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str]
    body: Any
    delay: float = 0.0


class Invalid(Exception):
    """A request the API description does not allow (answered 422, recorded as a violation)."""


Handler = Callable[["Call"], Reply]


@dataclass
class Call:
    """A request handed to a route: path parameters, query, JSON body, caller identity."""

    method: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    user: str | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


class ForgeServer:
    """Base of the GitHub and GitLab test servers. Subclasses add routes and `check()`."""

    prefix = ""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> ForgeServer:
        self._httpd = serve(self.handle)
        return self

    def stop(self) -> None:
        shutdown(self._httpd)

    @property
    def origin(self) -> str:
        assert self._httpd, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        """The API base URL clients are configured with."""
        return self.origin + self.prefix

    # -- configuration ----------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register `handler` for `method` and a path pattern with {name} placeholders."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(regex + "$"), handler))

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
    ) -> None:
        """Fault script: the next `times` `method` requests matching `path_regex` get `status`
        (after `delay` seconds)."""
        with self.lock:
            self.faults.append(
                Fault(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    times,
                    headers or {},
                    body if body is not None else {"message": f"injected {status}"},
                    delay,
                )
            )

    def slow(self, method: str, path_regex: str, seconds: float, *, times: int = 1) -> None:
        """Fault script: the next `times` matching requests are answered normally, but only
        after `seconds` (to line concurrent clients up at the same step)."""
        self.fail(method, path_regex, 0, times=times, delay=seconds)

    def calls(self, method: str | None = None, path_regex: str = "") -> list[Recorded]:
        """Recorded requests, optionally filtered by method and a path regex (search)."""
        rx = re.compile(path_regex)
        return [
            r for r in self.requests if (method is None or r.method == method) and rx.search(r.path)
        ]

    # -- hooks for subclasses ---------------------------------------------------------------
    def check(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        raw: bytes,
        headers: dict[str, str],
    ) -> None:
        """Raise Invalid when the API description does not allow this request."""

    def authenticate(self, call: Call, path: str) -> Reply | None:
        """Set call.user, or return the 401 reply."""
        return None

    def paginate(self, call: Call, path: str, items: list[Any]) -> Reply:
        """A page of `items` (page/per_page query) with an RFC 8288 Link to the next page."""
        page = int(call.arg("page", "1") or 1)
        per_page = min(int(call.arg("per_page", "30") or 30), 100)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        if page * per_page < len(items):
            q = {k: v[0] for k, v in call.query.items()}
            q.update(page=str(page + 1), per_page=str(per_page))
            headers["Link"] = f'<{self.url}{path}?{urlencode(q)}>; rel="next"'
        return Reply(200, chunk, headers)

    # -- dispatch ---------------------------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        path = split.path.removeprefix(self.prefix)
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = Recorded(method, path, query, headers, body, raw, time.time())
        with self.lock:
            self.requests.append(rec)
            try:
                reply = self._dispatch(method, path, query, body, raw, headers)
            except Exception as exc:  # noqa: BLE001 - a test-server bug must fail the test
                self.violations.append(f"{method} {path}: server error {exc!r}")
                reply = Reply(500, {"message": f"test server error: {exc!r}"})
            rec.status = reply.status
        if reply.delay:
            time.sleep(reply.delay)  # outside the lock: other requests go on meanwhile
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        out = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
        return reply.status, out, payload

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        raw: bytes,
        headers: dict[str, str],
    ) -> Reply:
        if not path.startswith("/") or (self.prefix and not path):
            return Reply(404, {"message": "Not Found"})
        try:
            self.check(method, path, query, body, raw, headers)
        except Invalid as exc:
            self.violations.append(f"{method} {path}: {exc}")
            return Reply(422, {"message": f"Validation Failed: {exc}"})
        delay = 0.0
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and fault.pattern.search(path):
                fault.times -= 1
                if fault.status:
                    return Reply(fault.status, fault.body, dict(fault.headers), fault.delay)
                delay = fault.delay  # a slow answer, not a failure
                break
        for route_method, regex, handler in self._routes:
            match = regex.match(path)
            if route_method == method and match:
                call = Call(method, match.groupdict(), query, body, headers)
                reply = self.authenticate(call, path) or handler(call)
                reply.delay = max(reply.delay, delay)
                return reply
        self.violations.append(f"{method} {path}: no route in the test server")
        return Reply(404, {"message": "Not Found"})
