"""One exchange on the simulator: the :class:`ResponseWriter` and the :class:`Call` being answered.

The writer sends headers with the first line, one chunk per NDJSON line, and notices a
client that leaves: ``select()`` + ``recv(MSG_PEEK) == b""`` while waiting between
tokens, a failed write or a cheap poll every few lines at full speed. The endpoints
(``_endpoints``, ``_generation``) answer a :class:`Call`; the server (``_server``) makes one per
request. Neither of those imports the other's module through here, so there is no import cycle.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from ._journal import Journal
from ._wire import go_json

if TYPE_CHECKING:
    from ._state import SimState

__all__ = ["BATCH", "JSON", "NDJSON", "Call", "ResponseWriter", "reason_phrase"]

NDJSON = "application/x-ndjson"
JSON = "application/json; charset=utf-8"
_CHUNK_END = b"0\r\n\r\n"
BATCH = 8  # lines per write at full speed; paced streams write every line at once


def _readable(sock: socket.socket, timeout: float) -> bool:
    fd = sock.fileno()
    if fd < 0:
        return True
    if fd < 1000 or not hasattr(select, "poll"):
        return bool(select.select([sock], [], [], max(timeout, 0.0))[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(int(timeout * 1000 + 0.999), 0)))


def reason_phrase(status: int) -> str:
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
            f"HTTP/1.1 {status} {reason_phrase(status)}\r\nContent-Type: {content_type}\r\n"
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
