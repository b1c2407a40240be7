"""A reply re-streamed as Server-Sent Events (``text/event-stream``) for a web page.

Three kinds of event, each one line of JSON in one ``data:`` field, ended by a blank line:

- a message (no ``event:`` field) per text delta: ``{"content": "...", "thinking": "..."}``
  (``thinking`` only when the delta has some);
- ``event: done`` once at the end: ``{"done_reason": ..., "stopped": ..., "timing": {...}}``;
- ``event: error`` instead of ``done`` when the stream failed, also before its first byte (a
  missing model, Ollama down): ``{"error": "<the one- or two-line message>", "type": "..."}``.

Nothing else is sent (no ids, no comments, no ``retry:``). The events are ``bytes`` in UTF-8:
WSGI and ASGI servers write bytes, so neither Flask nor Starlette has to encode each event.

When the page goes away, the Ollama stream is closed at once, so Ollama stops generating:

- **FastAPI/Starlette** needs an *async* body iterator: uvicorn reports the disconnect, Starlette
  cancels the response task, and the cancellation lands in the iterator's ``await``. Starlette
  never closes a sync iterator (it runs it in its thread pool and abandons it), so
  ``Reply.sse()`` is async-iterable too (:class:`ReplyEvents`: each read in a worker thread,
  ``Reply.stop()`` on cancel); ``AsyncReply.sse()`` is an async generator.
- **Flask/werkzeug** needs nothing more than a streaming server: it calls the iterator's
  ``close()`` when a write to the gone page fails, which is at the next event (measured: one
  more token). While Ollama is silent (loading the model) nothing is written, so the stream
  is closed when the first token arrives. (So is a blocking ``Reply`` behind FastAPI while it
  waits for Ollama's first byte: ``Reply.stop()`` cannot interrupt that wait from another thread.)

Example:
    >>> event_bytes({"content": "Hi"})
    b'data: {"content":"Hi"}\\n\\n'
    >>> event_bytes({"error": "boom"}, event="error")
    b'event: error\\ndata: {"error":"boom"}\\n\\n'
"""

from __future__ import annotations

import functools
import threading
from inspect import signature
from typing import TYPE_CHECKING, Any, AsyncIterator, Generator, Iterable, Iterator, Mapping, Protocol, cast

from .._errors import OllamaError
from .._finite import finite_json

if TYPE_CHECKING:
    from ._reply_state import BaseReply, Chunk



# The replies are described by what is used of them here: ``_reply`` imports this module, so
# this module does not import ``_reply`` (the import graph has no cycle).
class Reply(Protocol):
    """A blocking :class:`~ollama_nb.Reply`, as far as its events need it."""

    def __iter__(self) -> Iterator[Chunk]: ...
    def stop(self) -> None: ...


class AsyncReply(Protocol):
    """An :class:`~ollama_nb.AsyncReply`, as far as its events need it."""

    def __aiter__(self) -> AsyncIterator[Chunk]: ...
    def stop(self) -> None: ...


__all__ = [
    "ReplyEvents", "aiter_sse", "cross_origin", "delta_event", "done_event", "error_event", "event_bytes", "iter_sse"
]


def _json_line(data: Mapping[str, Any]) -> bytes:
    """Compact JSON on one line, UTF-8; a lone surrogate (from a ``\\ud800`` escape) stays escaped."""
    text = finite_json(data, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return finite_json(data, separators=(",", ":")).encode("ascii")


def cross_origin(origin: str | None, host: str | None, allowed: Iterable[str] = ()) -> bool:
    """True for a request from another site's page, to be refused (403) by a page that streams a model:
    its ``Origin`` header is neither this server (``host``: the ``Host`` header) nor in ``allowed``.
    A request without ``Origin`` (curl, a same-origin ``GET`` of the page) is not.

    Example:
        >>> cross_origin("https://evil.example", "127.0.0.1:8000"), cross_origin(None, "127.0.0.1:8000")
        (True, False)
        >>> cross_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
        False
        >>> cross_origin("https://my.site", "127.0.0.1:8000", ["https://my.site"])
        False
    """
    if not origin:
        return False
    return origin not in {f"http://{host}", f"https://{host}", *allowed}


def event_bytes(data: Mapping[str, Any], *, event: str | None = None) -> bytes:
    """One SSE event: an optional ``event:`` line, one ``data:`` line, a blank line.

    JSON escapes every CR and LF, so the data is always a single line.

    Example:
        >>> event_bytes({"text": "a\\nb"})
        b'data: {"text":"a\\\\nb"}\\n\\n'
    """
    head = b"event: " + event.encode("ascii") + b"\n" if event else b""
    return head + b"data: " + _json_line(data) + b"\n\n"


def delta_event(chunk: Chunk) -> bytes | None:
    """The event for a chunk's new text; None when it has none (the final line, tool rounds)."""
    if not chunk.content and not chunk.thinking:
        return None
    data = {"content": chunk.content, "thinking": chunk.thinking} if chunk.thinking else {"content": chunk.content}
    return event_bytes(data)


def done_event(reply: BaseReply) -> bytes:
    """The ``done`` event: why the reply ended, whether it was stopped, and its timing."""
    data = {"done_reason": reply.done_reason, "stopped": reply.stopped, "timing": reply.timing.as_dict()}
    return event_bytes(data, event="done")


def error_event(exc: OllamaError) -> bytes:
    """The ``error`` event: the user-facing message and the error's class name."""
    return event_bytes({"error": exc.message, "type": type(exc).__name__}, event="error")


def iter_sse(reply: BaseReply) -> Generator[bytes, None, None]:
    """Events for a blocking :class:`Reply`; closing this generator stops the reply at once."""
    chunks = iter(_blocking(reply))
    try:
        for chunk in chunks:
            event = delta_event(chunk)
            if event is not None:
                yield event
    except OllamaError as exc:
        yield error_event(exc)
        return
    finally:
        reply.stop()  # no-op after the end; else the FIN goes to Ollama now
        chunks.close()  # type: ignore[attr-defined]
    yield done_event(reply)


class ReplyEvents:
    """The events of a blocking :class:`Reply`, for a WSGI server and for an ASGI one.

    Iterated (Flask/werkzeug), it is :func:`iter_sse`: ``close()`` stops the reply. Async-iterated
    (Starlette's ``StreamingResponse`` prefers that), each event is read in a worker thread, and
    cancelling the wait stops the reply at once from the event loop instead of leaving the thread
    to run to the end: ``Reply.stop()`` may be called from any thread.
    """

    def __init__(self, reply: BaseReply) -> None:
        self._reply = reply
        self._events = iter_sse(reply)
        self._reading = threading.Lock()  # held by the thread inside next()

    def __iter__(self) -> ReplyEvents:
        return self

    def __next__(self) -> bytes:
        return next(self._events)

    def close(self) -> None:
        """Stop the reply (if still streaming) and release its connection."""
        self._events.close()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._in_worker_thread()

    def _next_or_none(self) -> bytes | None:
        with self._reading:
            return next(self._events, None)

    async def _in_worker_thread(self) -> AsyncIterator[bytes]:
        try:
            while True:
                event = await _abandonable_thread(self._next_or_none)
                if event is None:
                    return
                yield event
        finally:
            self._reply.stop()  # a worker inside next() returns at once and ends the generator itself
            if self._reading.acquire(blocking=False):
                try:  # no worker inside: release the connection here, never leave it to the GC
                    self._events.close()
                finally:
                    self._reading.release()


@functools.cache
def _abandon_keyword() -> str:
    """The keyword of anyio's ``run_sync`` that lets a cancelled caller go (``cancellable`` before 4.1)."""
    from anyio import to_thread

    return "abandon_on_cancel" if "abandon_on_cancel" in signature(to_thread.run_sync).parameters else "cancellable"


async def _abandonable_thread(func: Any, *args: Any) -> Any:
    """``func(*args)`` in anyio's worker threads (httpx's dependency); a cancelled caller stops waiting."""
    from anyio import to_thread

    run_sync: Any = to_thread.run_sync  # the keyword's name depends on anyio's version
    return await run_sync(func, *args, **{_abandon_keyword(): True})


async def aiter_sse(reply: BaseReply) -> AsyncIterator[bytes]:
    """Events for an :class:`AsyncReply`; cancelling or closing this generator stops the reply at once."""
    chunks = _async(reply).__aiter__()
    try:
        async for chunk in chunks:
            event = delta_event(chunk)
            if event is not None:
                yield event
    except OllamaError as exc:
        yield error_event(exc)
        return
    finally:
        reply.stop()  # synchronous: the FIN goes to Ollama even while this task is being cancelled
        await chunks.aclose()  # type: ignore[attr-defined]
    yield done_event(reply)


def _blocking(reply: BaseReply) -> Reply:
    """``reply`` as the blocking reply it is (``Reply.sse()`` passes itself)."""
    return cast(Reply, reply)


def _async(reply: BaseReply) -> AsyncReply:
    """``reply`` as the async reply it is (``AsyncReply.sse()`` passes itself)."""
    return cast(AsyncReply, reply)
