"""An httpx transport on urllib3: :class:`Urllib3Transport`, the blocking twin of :mod:`ollama_nb.client._aiohttp`.

httpx stays the API; the wire is urllib3's (the one under ``requests``), whose chunked reads
go through ``http.client`` and C-buffered ``readline``: about half the CPU per token of h11 on a
token-by-token stream. As in the aiohttp transport, urllib3's failures become the httpx
exceptions h11's transport raises for the same event, and a response carries a
``network_stream`` extension whose ``get_extra_info("socket")`` is its socket while it holds
one, so :meth:`Reply.stop` can shut it from another thread. While a request waits for its answer's
headers, the socket goes to the request's ``trace`` extension (httpx's request tracing) as the event
``"http11.receive_response_headers.socket"`` (info ``{"socket": sock}``), pooled connections too.

Example:
    >>> import httpx                                                   # doctest: +SKIP
    >>> client = httpx.Client(transport=Urllib3Transport())           # doctest: +SKIP
"""

from __future__ import annotations

import ssl
import threading
from typing import Any, Callable, Iterator

import httpx
import urllib3
from urllib3 import connection as connections
from urllib3 import connectionpool as pools
from urllib3 import exceptions as errors

from ._transport import WAITING_SOCKET_EVENT

__all__ = ["Urllib3Transport"]

#: The most one read of a body that is not chunked returns (a chunked one gives one chunk a read).
READ_SIZE = 65536


_sending = threading.local()  # the trace callback of the request this thread is sending, if any


class _Tracing:
    """A urllib3 connection that gives its socket to the request's trace before waiting for headers."""

    sock: Any

    def getresponse(self) -> Any:
        trace: Callable[[str, dict[str, Any]], Any] | None = getattr(_sending, "trace", None)
        if trace is not None and self.sock is not None:
            trace(WAITING_SOCKET_EVENT, {"socket": self.sock})
        return super().getresponse()  # type: ignore[misc]


class _HTTPConnection(_Tracing, connections.HTTPConnection):
    pass


class _HTTPSConnection(_Tracing, connections.HTTPSConnection):
    pass


class _HTTPPool(pools.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(pools.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Connection:
    """The ``network_stream`` extension: the socket under a urllib3 response while it holds its connection."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response

    def get_extra_info(self, name: str) -> Any:
        connection = self._response.connection
        return getattr(connection, "sock", None) if name == "socket" and connection is not None else None


def _mapped(exc: Exception, *, reading_body: bool) -> httpx.TransportError:
    """The httpx exception h11's transport raises for the same failure."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, errors.NewConnectionError):  # (a subclass of ConnectTimeoutError: first)
        return httpx.ConnectError(message)
    if isinstance(exc, errors.ConnectTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, errors.ReadTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, (errors.LocationValueError, errors.URLSchemeUnknown)):
        return httpx.UnsupportedProtocol(message)
    if reading_body:
        return httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    if isinstance(exc, errors.ProtocolError) and isinstance(exc.__context__ or exc.args[-1], ConnectionResetError):
        return httpx.ReadError(message)
    return httpx.RemoteProtocolError(message)  # closed before answering, or an answer that is not HTTP


class _Body(httpx.SyncByteStream):
    """A response body: one HTTP chunk per read (one token's line when the server flushes per token)."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        self._read_to_the_end = False

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        try:
            if response.chunked:
                yield from response.stream(None, decode_content=False)
            else:
                while data := response.read1(READ_SIZE, decode_content=False):
                    yield data
        except (errors.HTTPError, OSError) as exc:
            raise _mapped(exc, reading_body=True) from exc
        self._read_to_the_end = True

    def close(self) -> None:
        # only a body read to its end keeps its connection open for the next request
        if not self._read_to_the_end:
            self._response.close()
        self._response.release_conn()


class Urllib3Transport(httpx.BaseTransport):
    """Send httpx requests with urllib3 (HTTP/1.1, keep-alive pool, no redirects, no retries, no decoding).

    Example:
        >>> with httpx.Client(transport=Urllib3Transport(verify=False)) as http:   # doctest: +SKIP
        ...     http.get("http://127.0.0.1:11434/api/version").json()
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        tls: dict[str, Any] = {}
        if isinstance(verify, ssl.SSLContext):
            tls = {"ssl_context": verify}
        elif verify:
            tls = {"ssl_context": httpx.create_ssl_context()}
        else:
            tls = {"cert_reqs": "CERT_NONE"}
        self._pool = urllib3.PoolManager(maxsize=limits.max_keepalive_connections or 10, retries=False, **tls)
        self._pool.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        _sending.trace = request.extensions.get("trace")
        try:
            response = self._pool.urlopen(
                request.method,
                str(request.url),
                body=request.read() or None,
                headers=urllib3.HTTPHeaderDict(request.headers.multi_items()),
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                timeout=urllib3.Timeout(connect=timeout.get("connect"), read=timeout.get("read")),
                pool_timeout=timeout.get("pool"),
            )
        except (errors.HTTPError, OSError) as exc:
            raise _mapped(exc, reading_body=False) from exc
        finally:
            _sending.trace = None
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1", "network_stream": _Connection(response)}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
        return httpx.Response(
            response.status, headers=list(response.headers.items()), stream=_Body(response), extensions=extensions
        )

    def close(self) -> None:
        self._pool.clear()
