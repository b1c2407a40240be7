"""A misbehaving HTTP server on a raw socket (127.0.0.1): each request is answered by a script.

A script is a function ``(request, send)`` where ``request`` is the parsed :class:`Request`
and ``send(bytes)`` writes raw bytes to the socket; the connection is closed when it returns. So a
test can send anything an odd server, a proxy or an attacker would: a body that never ends a line,
gzip when identity was asked for, HTML, a redirect, NaN in the statistics.
"""

from __future__ import annotations

import json
import socket
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

__all__ = ["HostileServer", "Request", "chunked", "gzip_bomb", "headers", "ndjson"]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Script = Callable[[Request, Callable[[bytes], None]], None]


@dataclass
class HostileServer:
    """Serves ``script`` to every connection until closed; ``requests`` holds what arrived."""

    script: Script
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = _read_request(conn)
                self.requests.append(request)
                self.script(request, conn.sendall)
            except OSError:
                pass  # the client went away: that is its right

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_request(conn: socket.socket) -> Request:
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            raise OSError("closed before the headers")
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(fields.get("content-length") or 0)
    while len(body) < length:
        more = conn.recv(65536)
        if not more:
            break
        body += more
    return Request(method, path, fields, body)


def headers(status: str = "200 OK", content_type: str = "application/x-ndjson", **extra: str) -> bytes:
    """A response head for a chunked body (``extra``: header names with ``_`` for ``-``)."""
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", "Transfer-Encoding: chunked", "Connection: close"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(data: bytes) -> bytes:
    """One HTTP chunk (empty ``data``: the last chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def ndjson(*objects: Any) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


def gzip_bomb(size: int, piece: int = 1 << 20) -> Iterator[bytes]:
    """A gzip stream that inflates to ``size`` zero bytes (no newline), compressed a piece at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(piece)
    for _ in range(size // piece):
        out = compressor.compress(zeros)
        if out:
            yield out
    yield compressor.flush()
