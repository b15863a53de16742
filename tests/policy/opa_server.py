"""An OPA REST API test server on loopback: the documented policy and data APIs, on regopy.

There is no OPA binary on these machines. This server implements the endpoints the bot uses,
as OPA documents them (https://www.openpolicyagent.org/docs/rest-api):
PUT/GET/DELETE /v1/policies/{id}, GET /v1/policies, PUT/GET /v1/data/{path},
POST /v1/data/{path} with {"input": ...} -> {"result": ...} (no "result" when undefined),
GET /health. Modules are compiled together on every PUT, as OPA does, and a module that does
not compile is refused with 400 and OPA's error shape.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from regopy import Input, Interpreter, LogLevel, RegoError


class OpaState:
    """Policies and data of the fake OPA, and compiled bundles per (version, query)."""

    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.version = 0
        self.lock = threading.Lock()
        self.bundles: dict[tuple[int, str], Any] = {}
        self.requests: list[tuple[str, str]] = []

    def _interpreter(self, policies: dict[str, str]) -> Interpreter:
        interp = Interpreter()
        interp.log_level = LogLevel.NONE
        if self.data:
            interp.add_data(self.data)
        for policy_id, raw in sorted(policies.items()):
            interp.add_module(policy_id, raw)
        return interp

    def put_policy(self, policy_id: str, raw: str) -> str | None:
        candidate = {**self.policies, policy_id: raw}
        try:
            self._interpreter(candidate).build("x = true")
        except RegoError as exc:
            return str(exc)
        self.policies = candidate
        self.version += 1
        return None

    def evaluate(self, path: str, value: Any) -> tuple[bool, Any]:
        ref = "data" + "".join(f".{part}" for part in path.split("/") if part)
        key = (self.version, ref)
        if key not in self.bundles:
            self.bundles[key] = (self._interpreter(self.policies).build(f"x = {ref}"))
        runtime = Interpreter()
        runtime.log_level = LogLevel.NONE
        runtime.set_input(Input(value))
        output = runtime.query_bundle(self.bundles[key])
        if not output.ok():
            raise RegoError("evaluation failed")
        results = output.results
        if not results or "x" not in results[0].bindings:
            return False, None
        return True, results[0].bindings["x"]


class _Handler(BaseHTTPRequestHandler):
    state: OpaState

    def log_message(self, *args: Any) -> None:  # quiet tests
        pass

    def _send(self, status: int, body: Any | None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        state = self.state
        with state.lock:
            state.requests.append((method, path))
            if path == "/health":
                return self._send(200, {})
            if path.startswith("/v1/policies"):
                return self._policies(method, path.removeprefix("/v1/policies").strip("/"))
            if path.startswith("/v1/data"):
                return self._data(method, path.removeprefix("/v1/data").strip("/"))
        self._send(404, {"code": "resource_not_found", "message": "unknown endpoint"})

    def _policies(self, method: str, policy_id: str) -> None:
        state = self.state
        if method == "GET" and not policy_id:
            return self._send(200, {"result": [{"id": i, "raw": r}
                                               for i, r in sorted(state.policies.items())]})
        if method == "GET":
            if policy_id not in state.policies:
                return self._send(404, {"code": "resource_not_found", "message":
                                        f"storage_not_found_error: policy id {policy_id!r}"})
            return self._send(200, {"result": {"id": policy_id, "raw": state.policies[policy_id]}})
        if method == "PUT":
            error = state.put_policy(policy_id, self._body().decode())
            if error:
                return self._send(400, {"code": "invalid_parameter",
                                        "message": "error(s) occurred while compiling module(s)",
                                        "errors": [{"code": "rego_compile_error",
                                                    "message": error[:2000]}]})
            return self._send(200, {})
        if method == "DELETE":
            if state.policies.pop(policy_id, None) is None:
                return self._send(404, {"code": "resource_not_found", "message": policy_id})
            state.version += 1
            return self._send(200, {})
        self._send(405, {"code": "invalid_parameter", "message": "method not allowed"})

    def _data(self, method: str, path: str) -> None:
        state = self.state
        parts = [p for p in path.split("/") if p]
        if method == "PUT":
            node = state.data
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = json.loads(self._body() or b"null")
            state.version += 1
            return self._send(204, None)
        if method in ("GET", "POST"):
            body = json.loads(self._body() or b"{}") if method == "POST" else {}
            try:
                defined, value = state.evaluate(path, body.get("input"))
            except (RegoError, ValueError) as exc:
                return self._send(500, {"code": "internal_error", "message": str(exc)[:500]})
            return self._send(200, {"result": value} if defined else {})
        self._send(405, {"code": "invalid_parameter", "message": "method not allowed"})

    def do_GET(self) -> None:
        self._route("GET")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")


class OpaTestServer:
    """Start with `with OpaTestServer() as opa:`; `opa.url` is http://127.0.0.1:<port>."""

    def __init__(self) -> None:
        self.state = OpaState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
