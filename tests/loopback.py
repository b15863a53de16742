"""The HTTP plumbing shared by the loopback test servers (forges, Kubernetes, Argo CD):
a threaded server on 127.0.0.1 that hands every request to one function."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (method, target, headers, body bytes) -> (status, response headers, payload bytes)
Handle = Callable[[str, str, dict[str, str], bytes], tuple[int, Mapping[str, str], bytes]]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the one helper for it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def json_reply(code: int, body: Any) -> tuple[int, Mapping[str, str], bytes]:
    """A JSON answer for `Handle` functions."""
    return code, {"Content-Type": "application/json"}, json.dumps(body).encode()


def serve(handle: Handle, port: int = 0) -> ThreadingHTTPServer:
    """Start answering on 127.0.0.1:`port` (0: any free port) in a daemon thread."""

    class _H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: without TCP_NODELAY, Nagle's algorithm holds the
        # body until the client's delayed ACK (~40 ms per keep-alive request).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, headers, payload = handle(
                self.command, self.path, dict(self.headers.items()), raw
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _H)
    httpd.daemon_threads = True
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    return httpd


def shutdown(httpd: ThreadingHTTPServer | None) -> None:
    """Stop answering; new connections are refused."""
    if httpd:
        httpd.shutdown()
        httpd.server_close()
