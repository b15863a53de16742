"""An OPA REST API test server on loopback, evaluating with the real OPA engine (v1.20).

There is no OPA binary on these machines, but OPA's Go `rego` package is (see realopa.py):
this server puts the documented REST API (https://www.openpolicyagent.org/docs/rest-api) in
front of it, so the OPA server engine talks HTTP to real OPA semantics:
PUT/GET/DELETE /v1/policies/{id}, GET /v1/policies, PUT/GET /v1/data/{path},
POST /v1/data/{path} with {"input": ...} -> {"result": ...} (no "result" when undefined),
GET /health. As in OPA, every policy change compiles all modules together and is refused
with 400 and OPA's error shape when they do not compile (parse errors and compile errors).

Requests are checked against the documented shapes (methods, Content-Type of policies,
JSON bodies, known query parameters); anything else is answered 400 and kept in
`state.violations`, which the test fixture asserts is empty.

Known difference from `opa run --server`: the engine library uses strict built-in errors,
so a failing built-in gives 500 here where OPA's data API leaves the expression undefined.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.loopback import json_reply, serve, shutdown
from tests.policy.realopa import NO_INPUT, OpaFailure, RealOpa

Reply = tuple[int, Mapping[str, str], bytes]
DATA_PARAMS = frozenset(
    {"partial", "pretty", "provenance", "explain", "metrics", "instrument", "strict-builtin-errors"}
)
POLICY_PARAMS = frozenset({"pretty", "metrics"})
_ERROR_LINE = re.compile(r"([^\s:]+):(\d+): (rego_[a-z_]+_error): ([^\n]*)")


def compile_errors(message: str) -> list[dict[str, Any]]:
    """OPA's `errors` array from the engine's error text (file, row, code, message)."""
    found = [
        {"code": code, "message": text, "location": {"file": file, "row": int(row)}}
        for file, row, code, text in _ERROR_LINE.findall(message)
    ]
    return found or [{"code": "rego_compile_error", "message": message[:2000]}]


class OpaState:
    """Policies and data of the server, and the compiled engine for them."""

    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.violations: list[str] = []
        self.compiles = 0
        self._engine: RealOpa | None = None

    def _build(self, policies: Mapping[str, str], data: Mapping[str, Any]) -> RealOpa:
        engine = RealOpa()
        try:
            for policy_id, raw in sorted(policies.items()):
                engine.add_module(policy_id, raw)
            if data:
                engine.add_data(dict(data))
            engine.compile()
        except OpaFailure:
            engine.close()
            raise
        self.compiles += 1
        return engine

    def _activate(self, policies: dict[str, str], data: dict[str, Any]) -> None:
        engine = self._build(policies, data)  # raises before anything changes
        if self._engine is not None:
            self._engine.close()
        self.policies, self.data, self._engine = policies, data, engine

    def put_policy(self, policy_id: str, raw: str) -> None:
        """Add or replace a module; OpaFailure when the modules do not compile together."""
        self._activate({**self.policies, policy_id: raw}, self.data)

    def delete_policy(self, policy_id: str) -> None:
        """Remove a module; OpaFailure when the others no longer compile without it."""
        self._activate({k: v for k, v in self.policies.items() if k != policy_id}, self.data)

    def put_data(self, parts: list[str], value: Any) -> None:
        """Create or overwrite the document at `parts` (the root when empty)."""
        if not parts:
            if not isinstance(value, dict):
                raise ValueError("the root document must be an object")
            self._activate(dict(self.policies), value)
            return
        data = json.loads(json.dumps(self.data))
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{part} is not an object")
        node[parts[-1]] = value
        self._activate(dict(self.policies), data)

    def evaluate(self, parts: list[str], input_value: Any) -> tuple[bool, Any]:
        """(defined, value) of data.<parts> for `input_value` (NO_INPUT: without input)."""
        if self._engine is None:
            self._activate({}, {})
        assert self._engine is not None
        ref = "data" + "".join(f"[{json.dumps(p)}]" for p in parts)
        return self._engine.evaluate(ref, input_value)

    def restart(self) -> None:
        """Lose every policy and document, as an OPA restart without bundles does."""
        self._activate({}, {})


def _error(status: int, code: str, message: str, **extra: Any) -> Reply:
    return json_reply(status, {"code": code, "message": message, **extra})


class OpaTestServer:
    """Start with `with OpaTestServer() as opa:`; `opa.url` is http://127.0.0.1:<port>.

    With `token`, every request needs `Authorization: Bearer <token>`, as with
    `opa run --server --authentication=token` and an authz policy checking it.
    """

    def __init__(self, token: str | None = None) -> None:
        self.state = OpaState()
        self.token = token
        self._httpd: Any = None
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> Self:
        self._httpd = serve(self.handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop as OPA does: no new connections, and kept-alive ones are dropped."""
        self._stopped = True
        shutdown(self._httpd)

    def _refuse(self, message: str) -> Reply:
        self.state.violations.append(message)
        return _error(400, "invalid_parameter", message)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request (called by the loopback plumbing)."""
        if self._stopped:  # a kept-alive connection of a stopped server: drop it unanswered
            raise ConnectionAbortedError("the OPA test server is stopped")
        parts = urlsplit(target)
        path, params = unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True))
        state = self.state
        with state.lock:
            state.requests.append((method, path))
            if self.token and headers.get("Authorization") != f"Bearer {self.token}":
                return _error(401, "unauthorized", "request rejected by administrative policy")
            if path == "/health" and method == "GET":
                return json_reply(200, {})
            if path == "/v1/policies" or path.startswith("/v1/policies/"):
                unknown = set(params) - POLICY_PARAMS
                if unknown:
                    return self._refuse(f"unknown query parameters {sorted(unknown)}")
                return self._policies(
                    method, path.removeprefix("/v1/policies").strip("/"), headers, body
                )
            if path == "/v1/data" or path.startswith("/v1/data/"):
                unknown = set(params) - DATA_PARAMS
                if unknown:
                    return self._refuse(f"unknown query parameters {sorted(unknown)}")
                segments = [p for p in path.removeprefix("/v1/data").split("/") if p]
                return self._data(method, segments, headers, body)
        state.violations.append(f"{method} {path}: not an OPA endpoint")
        return _error(404, "resource_not_found", f"{method} {path} is not an OPA endpoint")

    def _policies(self, method: str, policy_id: str, headers: dict[str, str], body: bytes) -> Reply:
        state = self.state
        if method == "GET" and not policy_id:
            return json_reply(
                200, {"result": [{"id": i, "raw": r} for i, r in sorted(state.policies.items())]}
            )
        if not policy_id:
            return self._refuse(f"{method} /v1/policies needs a policy id")
        if method == "GET":
            if policy_id not in state.policies:
                return _error(
                    404, "resource_not_found", f"storage_not_found_error: policy id {policy_id!r}"
                )
            return json_reply(200, {"result": {"id": policy_id, "raw": state.policies[policy_id]}})
        if method == "PUT":
            content_type = headers.get("Content-Type", "").split(";")[0].strip()
            if content_type != "text/plain":
                return self._refuse(f"a policy is sent as text/plain, not {content_type!r}")
            try:
                state.put_policy(policy_id, body.decode("utf-8"))
            except UnicodeDecodeError:
                return self._refuse("the policy is not UTF-8")
            except OpaFailure as exc:
                return _error(
                    400,
                    "invalid_parameter",
                    "error(s) occurred while compiling module(s)",
                    errors=compile_errors(exc.message),
                )
            return json_reply(200, {})
        if method == "DELETE":
            if policy_id not in state.policies:
                return _error(
                    404, "resource_not_found", f"storage_not_found_error: policy id {policy_id!r}"
                )
            try:
                state.delete_policy(policy_id)
            except OpaFailure as exc:
                return _error(
                    400,
                    "invalid_parameter",
                    "error(s) occurred while compiling module(s)",
                    errors=compile_errors(exc.message),
                )
            return json_reply(200, {})
        return self._refuse(f"{method} is not a policy API method")

    def _data(
        self, method: str, segments: list[str], headers: dict[str, str], body: bytes
    ) -> Reply:
        state = self.state
        if method == "PUT":
            try:
                value = json.loads(body)
                state.put_data(segments, value)
            except ValueError as exc:
                return self._refuse(f"PUT /v1/data: {exc}")
            except OpaFailure as exc:
                return _error(400, "invalid_parameter", exc.message)
            return 204, {}, b""
        if method not in ("GET", "POST"):
            return self._refuse(f"{method} is not a data API method")
        input_value = NO_INPUT
        if method == "POST" and body:
            try:
                request = json.loads(body)
            except ValueError:
                return self._refuse("the request body is not JSON")
            if not isinstance(request, dict) or set(request) - {"input"}:
                return self._refuse('the request body must be {"input": ...}')
            input_value = request.get("input", NO_INPUT)
        try:
            defined, value = state.evaluate(segments, input_value)
        except OpaFailure as exc:
            return _error(500, "internal_error", exc.message[:2000])
        return json_reply(200, {"result": value} if defined else {})
