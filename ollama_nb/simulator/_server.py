"""HTTP plumbing: a threading HTTP/1.1 server and one request handler (the shared state is in ``_state``).

Each request becomes a :class:`~._exchange.Call` answered by ``_endpoints``; the response
writer lives in ``_exchange`` (so the endpoints never import this module).

Example:
    >>> state = SimState()
    >>> server = SimServer(("127.0.0.1", 0), state)
    >>> server.server_address[1] > 0
    True
    >>> server.server_close()
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ._endpoints import handle
from ._exchange import Call, ResponseWriter, reason_phrase
from ._journal import Request
from ._state import SimState

__all__ = ["SimServer", "SimState"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.state.track(self.connection, True)

    def finish(self) -> None:
        self.server.state.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors raised by http.server itself (bad request line, huge headers): plain text."""
        self.close_connection = True
        body = f"{code} {message or reason_phrase(code)}".encode("latin-1", "replace")
        ResponseWriter(self, self.server.state.journal, "").send_body(code, body, "text/plain")

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        state = self.server.state
        started_ns = time.perf_counter_ns()
        path = urlsplit(self.path).path
        writer = ResponseWriter(self, state.journal, path)
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            writer.send_body(400, b"400 Bad Request", "text/plain; charset=utf-8")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        authorization = headers.pop("authorization", None)
        headers.pop("proxy-authorization", None)
        state.journal.add_request(Request(
            method=self.command, path=path, body=_json_object(raw), time=time.monotonic(),
            headers=headers, has_authorization=authorization is not None,
        ))
        handle(Call(method=self.command, path=path, raw=raw or b"", writer=writer,
                    state=state, started_ns=started_ns, authorization=authorization))

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class SimServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with daemon threads, connection tracking and connection drops."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SimState, ipv6: bool = False) -> None:
        self.address_family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self.state = state
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that resets or drops its connection is normal here: no traceback on stderr."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.state.take_drop():
            self.state.journal.record("drop", "", 0)
            return False
        return True
