"""HTTP plumbing: a threading HTTP/1.1 server, its shared state and one request handler.

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
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ._endpoints import handle
from ._exchange import Call, ResponseWriter, reason_phrase
from ._gate import Gate
from ._journal import Journal, Request
from ._models import ModelShelf

__all__ = ["SimServer", "SimState"]


class SimState:
    """Settings and shared state of one simulator; read by every request."""

    def __init__(self, tokens_per_second: float | None = None, pull_seconds: float = 1.0,
                 gate: Gate | None = None) -> None:
        self.tokens_per_second = tokens_per_second
        self.pull_seconds = pull_seconds
        self.gate = gate or Gate()
        self.hostile = False  # set by Simulator(hostile=True)
        self.journal = Journal()
        self.shelf = ModelShelf()
        self._lock = threading.Lock()
        self._next = {"drop": 0, "busy": 0}  # connections to drop, requests to answer 503
        self._open: set[socket.socket] = set()

    def token_delay(self) -> float:
        """Seconds between tokens from tokens_per_second (0 = as fast as possible)."""
        rate = self.tokens_per_second
        return 1.0 / rate if rate else 0.0

    def drop_next(self, n: int) -> None:
        """Close the next ``n`` accepted connections without a byte."""
        self._add("drop", n)

    def take_drop(self) -> bool:
        return self._take("drop")

    def busy_next(self, n: int) -> None:
        """Answer the next ``n`` chat/generate requests 503 "server busy"."""
        self._add("busy", n)

    def take_busy(self) -> bool:
        return self._take("busy")

    def _add(self, what: str, n: int) -> None:
        with self._lock:
            self._next[what] += n

    def _take(self, what: str) -> bool:
        """True (and one fewer to go) when a ``drop``/``busy`` is still owed."""
        with self._lock:
            if self._next[what] <= 0:
                return False
            self._next[what] -= 1
            return True

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            (self._open.add if add else self._open.discard)(sock)

    def close_all(self) -> None:
        """Shut every open client connection (used by stop)."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


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
