"""Reading a response body under a bound: memory is limited by the package, not by the server.

The clients ask for ``Accept-Encoding: identity``; a body compressed anyway (gzip or deflate) is
inflated here a bounded piece at a time, so a small "zip bomb" cannot grow the kernel. Everything
reads through httpx's byte iterators (``iter_raw``/``aiter_raw``), whatever transport is under them.
Lines are cut at ``limit`` bytes by :class:`~ollama_nb.client._ndjson.LineBuffer`; whole bodies (the JSON
answers of ``/api/tags``, ``/api/show``…) by :func:`read_bounded`.

Example:
    >>> import gzip
    >>> b"".join(inflate([gzip.compress(b"hello")], "gzip"))
    b'hello'
"""

from __future__ import annotations

import zlib
from typing import AsyncIterator, Iterable, Iterator

import httpx

from .._errors import LineTooLongError, OllamaError
from ._ndjson import DEFAULT_LIMIT

__all__ = ["DEFAULT_MAX_LINE_BYTES", "abody_bytes", "aread_bounded", "body_bytes", "inflate", "read_bounded"]

#: The longest line (and JSON answer) accepted from a server, in bytes (16 MiB).
DEFAULT_MAX_LINE_BYTES = DEFAULT_LIMIT
#: The most bytes one inflate step may produce.
_PIECE = 256 * 1024


def _decoder(encoding: str) -> zlib._Decompress:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    return zlib.decompressobj()  # deflate (zlib-wrapped, as the HTTP spec says)


class _Inflater:
    """One body's decoder: each :meth:`pieces` call yields at most ``_PIECE`` bytes at a time."""

    def __init__(self, encoding: str) -> None:
        self._decoder = _decoder(encoding)

    def pieces(self, data: bytes) -> Iterator[bytes]:
        decoder = self._decoder
        while data and not decoder.eof:
            try:
                out = decoder.decompress(data, _PIECE)
            except zlib.error as exc:
                raise OllamaError(f"the server's compressed body is corrupt ({exc}).") from exc
            if out:
                yield out
            data = decoder.unconsumed_tail

    def rest(self) -> bytes:
        return b"" if self._decoder.eof else self._decoder.flush(_PIECE)


def _encoding(response: httpx.Response) -> str:
    """The body's content-encoding ('' for none); an encoding this module cannot bound is an error."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity", "gzip", "x-gzip", "deflate"):
        return "" if encoding == "identity" else encoding
    raise OllamaError(
        f"{_host_of(response)} sent a body encoded as "
        f"{encoding!r}, which ollama_nb does not decode.\nIs a proxy between you and Ollama? It asked for identity."
    )


def inflate(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """Decode a gzip or deflate body a bounded piece at a time ('' or identity: as it is)."""
    if not encoding or encoding == "identity":
        yield from chunks
        return
    inflater = _Inflater(encoding)
    for data in chunks:
        yield from inflater.pieces(data)
    rest = inflater.rest()
    if rest:
        yield rest


async def _ainflate(chunks: AsyncIterator[bytes], encoding: str) -> AsyncIterator[bytes]:
    inflater = _Inflater(encoding)
    async for data in chunks:
        for piece in inflater.pieces(data):
            yield piece
    rest = inflater.rest()
    if rest:
        yield rest


def body_bytes(response: httpx.Response) -> Iterator[bytes]:
    """The body's bytes, decoded when it is compressed, in bounded pieces."""
    encoding = _encoding(response)
    return inflate(response.iter_raw(), encoding) if encoding else response.iter_raw()


def abody_bytes(response: httpx.Response) -> AsyncIterator[bytes]:
    """The async twin of :func:`body_bytes`."""
    encoding = _encoding(response)
    return _ainflate(response.aiter_raw(), encoding) if encoding else response.aiter_raw()


def _host_of(response: httpx.Response) -> str:
    url = response.request.url
    return f"{url.scheme}://{url.netloc.decode()}"


def _collect(parts: list[bytes], size: int, piece: bytes, limit: int, response: httpx.Response, cut: bool) -> int:
    """Add ``piece`` to ``parts``; raise (or, with ``cut``, stop at ``limit``) past the limit."""
    size += len(piece)
    if size > limit:
        if cut:
            parts.append(piece[: len(piece) - (size - limit)])
            return -1
        raise LineTooLongError(_host_of(response), limit=limit, what="an answer")
    parts.append(piece)
    return size


def read_bounded(response: httpx.Response, limit: int, *, cut: bool = False) -> bytes:
    """The whole body, at most ``limit`` bytes: more is a :class:`LineTooLongError`, or with
    ``cut`` (an error body, only shown) the first ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    for piece in body_bytes(response):
        size = _collect(parts, size, piece, limit, response, cut)
        if size < 0:
            break
    return b"".join(parts)


async def aread_bounded(response: httpx.Response, limit: int, *, cut: bool = False) -> bytes:
    """The async twin of :func:`read_bounded`."""
    parts: list[bytes] = []
    size = 0
    async for piece in abody_bytes(response):
        size = _collect(parts, size, piece, limit, response, cut)
        if size < 0:
            break
    return b"".join(parts)
