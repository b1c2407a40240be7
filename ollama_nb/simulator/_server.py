"""HTTP plumbing: a threading HTTP/1.1 server, one handler, and a response writer.

The writer sends headers with the first line, one chunk per NDJSON line, and notices a
client that leaves: ``select()`` + ``recv(MSG_PEEK) == b""`` while waiting between
tokens, a failed write or a cheap poll every few lines at full speed. Endpoint
behaviour lives in ``_endpoints``.

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
import select
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ._gate import Gate
from ._journal import Journal, Request
from ._models import ModelShelf
from ._wire import go_json

__all__ = ["Call", "ResponseWriter", "SimServer", "SimState"]

NDJSON = "application/x-ndjson"
JSON = "application/json; charset=utf-8"
_CHUNK_END = b"0\r\n\r\n"
BATCH = 8  # lines per write at full speed; paced streams write every line at once


class SimState:
    """Settings and shared state of one simulator; read by every request."""

    def __init__(self, tokens_per_second: float | None = None, pull_seconds: float = 1.0,
                 gate: Gate | None = None) -> None:
        self.tokens_per_second = tokens_per_second
        self.pull_seconds = pull_seconds
        self.gate = gate or Gate()
        self.journal = Journal()
        self.shelf = ModelShelf()
        self._lock = threading.Lock()
        self._drops = 0
        self._open: set[socket.socket] = set()

    def token_delay(self) -> float:
        """Seconds between tokens from tokens_per_second (0 = as fast as possible)."""
        rate = self.tokens_per_second
        return 1.0 / rate if rate else 0.0

    def drop_next(self, n: int) -> None:
        """Close the next ``n`` accepted connections without a byte."""
        with self._lock:
            self._drops += n

    def take_drop(self) -> bool:
        with self._lock:
            if self._drops <= 0:
                return False
            self._drops -= 1
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


def _readable(sock: socket.socket, timeout: float) -> bool:
    fd = sock.fileno()
    if fd < 0:
        return True
    if fd < 1000 or not hasattr(select, "poll"):
        return bool(select.select([sock], [], [], max(timeout, 0.0))[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(int(timeout * 1000 + 0.999), 0)))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"status code {status}"


class ResponseWriter:
    """Writes one response on a client connection and records how it ended."""

    def __init__(self, handler: BaseHTTPRequestHandler, journal: Journal, path: str) -> None:
        self._handler = handler
        self._sock: socket.socket = handler.connection
        self._journal = journal
        self.path = path
        self.lines_sent = 0
        self.alive = True
        self._pending = b""
        self._queue: list[bytes] = []
        self._queued = 0
        self._chunked = handler.request_version != "HTTP/1.0"

    # -- whole bodies -------------------------------------------------------------
    def _headers(self, status: int, content_type: str, extra: str) -> bytes:
        close = "Connection: close\r\n" if self._handler.close_connection else ""
        return (
            f"HTTP/1.1 {status} {_reason(status)}\r\nContent-Type: {content_type}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n{extra}X-Ollama-Simulator: ollama_nb\r\n{close}\r\n"
        ).encode("latin-1")

    def send_body(self, status: int, body: bytes, content_type: str = JSON, head_only: bool = False) -> None:
        """Send a complete response with Content-Length."""
        data = self._headers(status, content_type, f"Content-Length: {len(body)}\r\n")
        if self._send(data if head_only else data + body):
            self.lines_sent = 1
            self._journal.record("complete", self.path, 1)

    def _send(self, data: bytes) -> bool:
        try:
            self._sock.sendall(data)
            return True
        except OSError:
            self.lost()
            return False

    # -- streams --------------------------------------------------------------------
    def start_stream(self, content_type: str = NDJSON) -> None:
        """Prepare a 200 streaming response; headers leave with the first line."""
        if not self._chunked:
            self._handler.close_connection = True
        extra = "Transfer-Encoding: chunked\r\n" if self._chunked else ""
        self._pending = self._headers(200, content_type, extra)

    def write_line(self, line: bytes, flush: bool = True) -> bool:
        """Send one NDJSON line as one chunk; False once the client is gone.

        ``flush=False`` queues the chunk and sends queued chunks together in one write
        every ``BATCH`` lines (used at full speed to keep the per-line cost low).
        """
        self._queue.append(b"%x\r\n%b\r\n" % (len(line), line) if self._chunked else line)
        self._queued += 1
        if flush or self._queued >= BATCH:
            return self.flush()
        return True

    def flush(self) -> bool:
        """Send the headers (if still pending) and all queued chunks in one write."""
        data = b"".join(self._queue) if len(self._queue) != 1 else self._queue[0]
        self._queue.clear()
        if self._pending:
            data, self._pending = self._pending + data, b""
        try:
            self._sock.sendall(data)
        except OSError:
            self.lost()
            return False
        self.lines_sent += self._queued
        self._queued = 0
        return True

    def write_line_split(self, line: bytes, flush: bool = True) -> bool:
        """Send one line as two chunks, split inside its first multi-byte UTF-8 character."""
        if self._queue and not self.flush():
            return False
        cut = next((i + 1 for i, byte in enumerate(line) if byte >= 0xC0), len(line) // 2)
        for first, part in ((True, line[:cut]), (False, line[cut:])):
            frame = b"%x\r\n%b\r\n" % (len(part), part) if self._chunked else part
            if self._pending:
                frame, self._pending = self._pending + frame, b""
            if not self._send(frame):
                return False
            if first and not self.pause(0.0005):  # let the halves arrive apart
                return False
        self.lines_sent += 1
        return True

    def end_stream(self) -> None:
        """Send queued lines and the chunked terminator; record ``complete``."""
        self._queue.append(_CHUNK_END if self._chunked else b"")
        if self.flush():
            self._journal.record("complete", self.path, self.lines_sent)

    def drop(self) -> None:
        """Close the connection now, without the chunked terminator; record ``drop``."""
        if (self._queue or self._pending) and not self.flush():
            return
        self._handler.close_connection = True
        self.alive = False
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._journal.record("drop", self.path, self.lines_sent)

    # -- noticing a client that left ----------------------------------------------
    def lost(self) -> None:
        """Mark the client gone (once) and record ``disconnect``."""
        if self.alive:
            self.alive = False
            self._handler.close_connection = True
            self._journal.record("disconnect", self.path, self.lines_sent)

    def _peek_closed(self) -> bool | None:
        """True: peer closed; False: data waiting; None: nothing to read."""
        try:
            return self._sock.recv(1, socket.MSG_PEEK) == b""
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return True

    def connected(self) -> bool:
        """Cheap check (no waiting); records ``disconnect`` when the client is gone."""
        if _readable(self._sock, 0.0) and self._peek_closed():
            self.lost()
        return self.alive

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` watching the socket; False (and ``disconnect``) if the client left."""
        return self.pause_until(time.monotonic() + seconds)

    def pause_until(self, deadline: float) -> bool:
        """Wait until ``deadline`` (monotonic) watching the socket; False if the client left."""
        while self.alive:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if _readable(self._sock, remaining):
                closed = self._peek_closed()
                if closed:
                    self.lost()
                    return False
                if closed is False:  # client sent more bytes: cannot select on it, just sleep
                    time.sleep(max(0.0, deadline - time.monotonic()))
                    return True
        return False


@dataclass
class Call:
    """One request being answered."""

    method: str
    path: str
    raw: bytes
    writer: ResponseWriter
    state: SimState
    started_ns: int
    authorization: str | None = field(default=None, repr=False)  # checked by the gate, never stored

    @property
    def head_only(self) -> bool:
        """HEAD request: headers only."""
        return self.method == "HEAD"

    def send_json(self, value: object, status: int = 200) -> None:
        """Send ``value`` as a whole JSON body (Go's encoding)."""
        self.writer.send_body(status, go_json(value), JSON, self.head_only)

    def send_error(self, status: int, message: str, extra: dict[str, Any] | None = None,
                   content_type: str = JSON) -> None:
        """Send Ollama's error body ``{"error": message}`` (plus ``extra`` keys, sorted like gin.H)."""
        body = dict(sorted({"error": message, **(extra or {})}.items()))
        self.writer.send_body(status, go_json(body), content_type, self.head_only)


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
        body = f"{code} {message or _reason(code)}".encode("latin-1", "replace")
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
        from ._endpoints import handle  # imported here: _endpoints imports this module

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
        import sys

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
