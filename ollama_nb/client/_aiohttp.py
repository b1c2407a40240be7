"""An httpx transport on aiohttp: :class:`AiohttpTransport`, the bytes read by aiohttp's C HTTP parser.

httpx stays the API (requests, responses, timeouts, errors); only the wire is aiohttp's. httpx's
own transport parses HTTP/1.1 with h11 in pure Python, one chunk per token, which costs about
twice the CPU of raw aiohttp on a token-by-token stream; this one reads at raw aiohttp's pace.
Modelled on the ``httpx-aiohttp`` package (the transport openai-python ships), with two
differences the stream needs:

- aiohttp's failures become the httpx exceptions h11's transport raises for the same event
  (connection refused → ``ConnectError``, closed before answering → ``RemoteProtocolError``,
  cut mid-body → ``RemoteProtocolError``, silent → ``ReadTimeout``), so retries and error
  messages are the same on both transports;
- the response carries a ``network_stream`` extension whose ``get_extra_info("socket")`` is
  the connection's socket, so :meth:`Reply.stop` can shut it down from any thread, as on h11.

Imported only when an :class:`~ollama_nb.AsyncClient` picks it (importing aiohttp takes about twice as long as httpx).

Example:
    >>> import httpx                                                          # doctest: +SKIP
    >>> client = httpx.AsyncClient(transport=AiohttpTransport())             # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from typing import Any, AsyncIterator

import aiohttp
import httpx

__all__ = ["AiohttpTransport"]


class _Connection:
    """The ``network_stream`` extension: the socket under an aiohttp response, as httpcore's stream offers it.

    Only while the response holds its connection: aiohttp hands a connection back to its pool as
    soon as the body's last byte arrives, and a stop after that must not shut a pooled socket.
    """

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    def get_extra_info(self, name: str) -> Any:
        connection = self._response.connection
        transport = connection.transport if connection is not None else None
        return transport.get_extra_info(name) if transport is not None else None


def _mapped(exc: Exception, *, reading_body: bool) -> httpx.TransportError:
    """The httpx exception h11's transport raises for the same failure."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ClientOSError):
        return httpx.ReadError(message)
    # a connection closed before the answer, or cut mid-body, or a response that is not HTTP
    detail = "peer closed connection without sending complete message body" if reading_body else message
    return httpx.RemoteProtocolError(detail)


def _close_quietly(session: aiohttp.ClientSession) -> None:
    """Close ``session``'s sockets now, with no "Unclosed client session" report (a finaliser)."""
    if session.closed:
        return
    connector = session.connector
    session.detach()  # the session counts as closed now
    if connector is not None:
        # the connector's synchronous close (what ``with connector:`` ends with): its sockets are closed
        # at once; its ``close()`` is a coroutine, which a finaliser cannot await
        connector.__exit__(None, None, None)


class _Body(httpx.AsyncByteStream):
    """A response body: each read gives what has arrived (one token's line when the server flushes per token)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._read_to_the_end = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while True:
                data = await content.readany()
                if not data:
                    self._read_to_the_end = True
                    return
                yield data
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _mapped(exc, reading_body=True) from exc

    async def aclose(self) -> None:
        # Only a body its reader took to the end gives the connection back to the pool. One left
        # earlier is closed, even when its last bytes had arrived: a stop may have shut its socket
        # down, and aiohttp, unlike httpcore, does not notice a dead pooled connection before reuse.
        if self._read_to_the_end:
            self._response.release()
        else:
            self._response.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests with aiohttp (HTTP/1.1, keep-alive pool, no redirects, no decompression).

    ``verify`` as httpx's (``False`` for plain ``http://``, an ``ssl.SSLContext``, or ``True``).
    The aiohttp session is made on first use, in the running event loop; a client used from
    another loop later gets a fresh session there (aiohttp's, like httpx's, are bound to one loop).

    Example:
        >>> async with httpx.AsyncClient(transport=AiohttpTransport()) as http:   # doctest: +SKIP
        ...     response = await http.get("http://127.0.0.1:11434/api/version")
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None) -> None:
        self._ssl: ssl.SSLContext | bool = verify if isinstance(verify, ssl.SSLContext) or not verify else True
        self._limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
            self._loop = loop
            # a client dropped unclosed (its loop ended with a notebook cell, say) closes its
            # sockets quietly, as httpx's own transport does, instead of aiohttp's "Unclosed" log
            weakref.finalize(self, _close_quietly, self._session)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session_here()
        timeout = request.extensions.get("timeout", {})
        try:
            body: bytes | None = request.content or None
        except httpx.RequestNotRead:
            body = await request.aread() or None
        try:
            response = await session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=timeout.get("pool"), sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _mapped(exc, reading_body=False) from exc
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1", "network_stream": _Connection(response)}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
        return httpx.Response(
            response.status, headers=response.raw_headers, stream=_Body(response), extensions=extensions
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()
