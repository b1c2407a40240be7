"""A streaming reply: iterate it for chunks; when it has ended, read its text and timing.

Modelled on simonw/llm's ``Response`` (lazy; text and usage once the stream ends) and httpx's
streaming responses (always closed in ``finally``; ``iter``/``aiter`` twins). Nothing is sent
until the reply is first read, so a reply can be stopped at any moment, even while the model loads.

A reply is made by a client (``client.reply(request)``, ``client.chat(...)``) and given an
*opener* then: a callable ``opener(body, before_send)`` that sends the body and returns the open
streaming response. The reply never names the client.

Stopping (``reply.stop()``, leaving a ``with`` block, breaking out of the loop, garbage collection,
Ctrl-C) closes the HTTP connection at once, so Ollama sees it and stops generating; the text so
far is kept and ``stopped`` is True. (Garbage collection hands the rest of the release to another
thread: the collector may run while its thread holds httpcore's pool lock; see ``_release``.)

Example:
    >>> from ollama_nb import Client
    >>> reply = Client().chat("llama3.2", [{"role": "user", "content": "Hi"}])  # doctest: +SKIP
    >>> for chunk in reply:                                                     # doctest: +SKIP
    ...     print(chunk.content, end="")
    >>> reply.timing.tokens_per_s                                               # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, AsyncIterator, Awaitable, Callable, Coroutine, Iterator, TypeVar

import httpx

from .._errors import OllamaError, ReplyNotReadError
from ._body import abody_bytes, body_bytes
from ._release import keep, release
from ._reply_state import BaseReply, Chunk, StopRequested, shutdown_connection, shutdown_socket
from ._request import Request
from ._sse import ReplyEvents, aiter_sse
from ._transport import waiting_socket_to

__all__ = ["AsyncOpener", "AsyncReply", "BaseReply", "BeforeSend", "Chunk", "Opener", "Reply", "running_loop"]

#: Called by an opener before each attempt to send (it raises when the reply was stopped meanwhile).
BeforeSend = Callable[[], None]
#: Sends a body and returns the open streaming response (errors mapped to OllamaError).
Opener = Callable[[dict[str, Any], BeforeSend], httpx.Response]
#: The asyncio twin of :data:`Opener`.
AsyncOpener = Callable[[dict[str, Any], BeforeSend], Awaitable[httpx.Response]]

_T = TypeVar("_T")


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Reply(BaseReply):
    """A streaming reply read synchronously; see the module docstring.

    Example:
        >>> with Client().chat("llama3.2", messages) as reply:   # doctest: +SKIP
        ...     for chunk in reply:
        ...         print(chunk.content, end="", flush=True)
        >>> reply.text, reply.stopped, reply.timing.ttft_s         # doctest: +SKIP
    """

    def __init__(self, request: Request, *, opener: Opener, host: str, **settings: Any) -> None:
        super().__init__(request, host=host, **settings)
        self._opener = opener
        self._body: Iterator[bytes] | None = None
        self._waiting_socket: socket.socket | None = None

    @property
    def text(self) -> str:
        """The whole content; reads the rest of the stream first unless it is being iterated."""
        if not self._started and not self._finished:
            self.read()
        return self.partial_text()

    def read(self) -> str:
        """Read to the end (raising any stream error) and return the text."""
        if not self._started and not self._finished:
            for _ in self:
                pass
        return self.partial_text()

    def __iter__(self) -> Iterator[Chunk]:
        if self._finished:
            yield self._summary_chunk()
            return
        if self._started:
            raise RuntimeError("this reply is already being read; iterate it once")
        self._begin()
        try:
            while True:
                with waiting_socket_to(self._note_waiting_socket):
                    self._response = response = self._opener(self.body, self._before_send)
                self._waiting_socket = None
                self._body = body = keep(body_bytes(response))
                while not self._stop_requested:
                    self._in_read = True
                    try:
                        data = next(body)
                    except StopIteration:
                        self._end_of_body()
                        break
                    finally:
                        self._in_read = False
                    for chunk in self._feed(data):
                        yield chunk
                        if self._stop_requested:
                            break
                    self._raise_deferred()
                tools_chunk = self._next_round()
                if tools_chunk is None:
                    break
                self._body = None
                release(response, body)
                yield tools_chunk
        except StopRequested:
            pass
        except (OllamaError, httpx.HTTPError) as exc:
            error = self._failure(exc)
            if error is not None:
                raise error from (exc.__cause__ if error is exc else exc)
        finally:
            self.close()

    def _note_waiting_socket(self, sock: socket.socket) -> None:
        """The socket this reply's request waits on for its answer's headers (closed by a stop)."""
        self._waiting_socket = sock
        if self._stop_requested:  # the stop came while the connection was being made
            shutdown_socket(sock)

    def sse(self) -> ReplyEvents:
        """The reply as Server-Sent Events (UTF-8 bytes); closing or cancelling them stops the reply.

        Flask: ``Response(reply.sse(), mimetype="text/event-stream")``; FastAPI:
        ``StreamingResponse(reply.sse(), media_type="text/event-stream")`` (iterated there
        asynchronously, each read in a worker thread, so a disconnect stops the reply at once).
        Events and framing: :mod:`ollama_nb.client._sse`.

        Example:
            >>> next(client.generate("llama3.2", "Hi").sse())   # doctest: +SKIP
            b'data: {"content":"Hello"}\\n\\n'
        """
        return ReplyEvents(self)

    def stop(self) -> None:
        """Stop generating: close the connection now (from any thread); keep the text so far."""
        if self._finished:
            return
        self._stop_requested = True
        if self._response is not None:
            shutdown_connection(self._response)
        elif self._waiting_socket is not None:  # still waiting for the answer's headers
            shutdown_socket(self._waiting_socket)
        if not self._started:
            self.close()
        elif not self._in_read:
            # suspended between chunks: it has ended now; the generator releases the
            # (already shut) connection when it is resumed or collected
            self._finish()

    def close(self) -> None:
        """Release the connection; a reply closed before its end is marked stopped.

        Safe from a finaliser: inside a garbage collection the connection is only shut down here
        and released by another thread (see :mod:`ollama_nb.client._release`).
        """
        response, self._response = self._response, None
        body, self._body = self._body, None
        if response is not None:
            if self._final is None:
                shutdown_connection(response)
            release(response, body)
        self._finish()

    def __enter__(self) -> Reply:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._finished:
            self._stop_requested = True
            self.close()

    def __del__(self) -> None:
        if not getattr(self, "_finished", True):
            try:
                self._stop_requested = True
                self.close()
            except Exception:
                pass


class AsyncReply(BaseReply):
    """A streaming reply read with ``async for``; ``stop()`` may be called from any thread.

    Example:
        >>> reply = await AsyncClient().chat("llama3.2", messages)   # doctest: +SKIP
        >>> async for chunk in reply:                                # doctest: +SKIP
        ...     print(chunk.content, end="")
        >>> reply.text                                               # doctest: +SKIP
    """

    def __init__(self, request: Request, *, opener: AsyncOpener, host: str, **settings: Any) -> None:
        super().__init__(request, host=host, **settings)
        self._opener = opener
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: asyncio.Task[Any] | None = None
        self._cancelled_by_stop = False

    @property
    def text(self) -> str:
        """The whole content, once the stream has ended (as httpx's ``Response.text`` after ``aread``).

        Raises :class:`~ollama_nb.ReplyNotReadError` before that: ``await reply.aread()`` first,
        or use :meth:`partial_text` for what has arrived so far.
        """
        if not self._finished:
            raise ReplyNotReadError()
        return self.partial_text()

    async def aread(self) -> str:
        """Read to the end (raising any stream error) and return the text."""
        if not self._started and not self._finished:
            async for _ in self:
                pass
        return self.partial_text()

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[Chunk]:
        if self._finished:
            yield self._summary_chunk()
            return
        if self._started:
            raise RuntimeError("this reply is already being read; iterate it once")
        self._begin()
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                self._response = response = await self._guarded(self._opener(self.body, self._before_send))
                body = abody_bytes(response)
                while True:
                    try:
                        data = await self._guarded(body.__anext__())
                    except StopAsyncIteration:
                        self._end_of_body()
                        break
                    for chunk in self._feed(data):
                        yield chunk
                        if self._stop_requested:
                            break
                    if self._stop_requested:
                        break
                    self._raise_deferred()
                tools_chunk = self._next_round()
                if tools_chunk is None:
                    break
                await response.aclose()
                yield tools_chunk
        except StopRequested:
            pass
        except (OllamaError, httpx.HTTPError) as exc:
            error = self._failure(exc)
            if error is not None:
                raise error from (exc.__cause__ if error is exc else exc)
        finally:
            await self.aclose()

    def sse(self) -> AsyncIterator[bytes]:
        """The reply as Server-Sent Events (UTF-8 bytes); cancelling or closing the generator stops the reply.

        For FastAPI: ``StreamingResponse(reply.sse(), media_type="text/event-stream")``; uvicorn's
        disconnect cancels it, which closes the Ollama stream at once. Events: :mod:`ollama_nb.client._sse`.

        Example:
            >>> reply = await client.chat("llama3.2", messages)   # doctest: +SKIP
            >>> return StreamingResponse(reply.sse(), media_type="text/event-stream")   # doctest: +SKIP
        """
        return aiter_sse(self)

    async def _guarded(self, awaitable: Coroutine[Any, Any, _T] | Awaitable[_T]) -> _T:
        """Await ``awaitable`` so that ``stop()`` can interrupt it."""
        if self._stop_requested:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise StopRequested
        task = asyncio.current_task()
        self._waiting = task
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._cancelled_by_stop:
                self._cancelled_by_stop = False
                uncancel = getattr(task, "uncancel", None)
                if uncancel is not None:
                    uncancel()
                raise StopRequested from None
            raise
        finally:
            self._waiting = None

    def stop(self) -> None:
        """Stop generating: close the connection now (callable from any thread); keep the text."""
        if self._finished:
            return
        self._stop_requested = True
        if self._response is not None:
            shutdown_connection(self._response)  # the server sees the close now, from any thread
        loop = self._loop
        if loop is None or loop.is_closed():
            if not self._started or self._response is None:
                self._finish()
            return
        if running_loop() is loop:
            self._stop_in_loop()
        else:
            loop.call_soon_threadsafe(self._stop_in_loop)

    def _stop_in_loop(self) -> None:
        """In the reply's loop: wake a waiting read, or end a reply suspended between chunks."""
        task = self._waiting
        if task is not None and not task.done():
            if not self._cancelled_by_stop:
                self._cancelled_by_stop = True
                task.cancel()
        elif self._started:
            self._finish()

    async def aclose(self) -> None:
        """Release the connection; a reply closed before its end is marked stopped."""
        response, self._response = self._response, None
        if response is not None:
            if self._final is None:
                shutdown_connection(response)
            await response.aclose()
        self._finish()

    async def __aenter__(self) -> AsyncReply:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._finished:
            self._stop_requested = True
            await self.aclose()

    def __del__(self) -> None:
        if not getattr(self, "_finished", True):
            try:
                self._stop_requested = True
                if self._response is not None:
                    shutdown_connection(self._response)
                self._finish()
            except Exception:
                pass
