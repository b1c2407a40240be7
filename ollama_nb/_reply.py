"""A streaming reply: iterate it for chunks; when it has ended, read its text and timing.

Modelled on simonw/llm's ``Response`` (lazy; text and usage once the stream ends) and httpx's
streaming responses (always closed in ``finally``; ``iter``/``aiter`` twins). Nothing is sent
until the reply is first read, so a reply can be stopped at any moment, even while the model loads.

Stopping (``reply.stop()``, leaving a ``with`` block, breaking out of the loop, garbage collection,
Ctrl-C) closes the HTTP connection at once, so Ollama sees it and stops generating; the text so
far is kept and ``stopped`` is True.

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
import time
import warnings
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator, NamedTuple, Sequence

import httpx

from ._errors import ConnectionLostError, MalformedLineWarning, OllamaError, StreamError, ToolError
from ._ndjson import LineBuffer, parse_line
from ._sse import ReplyEvents, aiter_sse
from ._timing import Timing
from ._tools import DEFAULT_MAX_TOOL_ROUNDS, ToolCall, ToolResult, run_tool_call

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

__all__ = ["AsyncReply", "Chunk", "Reply"]

_clock = time.perf_counter


class Chunk(NamedTuple):
    """One line of the stream: the new ``content`` and ``thinking`` text, any ``tool_calls``.

    ``done`` is True on the final line, which carries the server's statistics in ``raw``.
    When a session runs tools, a chunk between rounds carries their ``tool_results``.
    Immutable, and cheap to make (a named tuple: one is built per token).
    """

    content: str = ""
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    done: bool = False
    raw: dict[str, Any] = {}
    tool_results: tuple[ToolResult, ...] = ()

    def __repr__(self) -> str:
        return f"Chunk(content={self.content!r}, thinking={self.thinking!r}, done={self.done})"


def _shutdown_connection(response: Any) -> None:
    """Send the server a FIN now, even while another thread or the event loop waits on a read."""
    stream = getattr(response, "extensions", {}).get("network_stream")
    try:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass


def _body_bytes(response: httpx.Response) -> Iterator[bytes]:
    """The body's bytes: raw when not content-encoded (Ollama's NDJSON is not), else decoded."""
    if response.headers.get("content-encoding", "identity") == "identity":
        return response.iter_raw()
    return response.iter_bytes()


def _abody_bytes(response: httpx.Response) -> AsyncIterator[bytes]:
    """The async twin of :func:`_body_bytes`."""
    if response.headers.get("content-encoding", "identity") == "identity":
        return response.aiter_raw()
    return response.aiter_bytes()


class _Stopped(Exception):
    """Internal: a stop interrupted a wait."""


class BaseReply:
    """What a sync and an async reply share: state, line handling and the end of the stream."""

    def __init__(self, *, model: str, endpoint: str, body: dict[str, Any], host: str) -> None:
        self.model = model
        self.endpoint = endpoint
        self.request = body
        self.host = host
        self.stopped = False
        self.error: OllamaError | None = None
        self.done_reason: str | None = None
        self.malformed_lines = 0
        self.notes: list[str] = []
        self._content: list[str] = []
        self._thinking: list[str] = []
        self._tool_calls: list[ToolCall] = []
        self._final: dict[str, Any] | None = None
        self._chunks = 0
        self._buffer = LineBuffer()
        self._is_chat = endpoint == "chat"
        self._started = False
        self._finished = False
        self._stop_requested = False
        self._in_read = False
        self._response: Any = None
        self._t_start: float | None = None
        self._t_sent: float | None = None
        self._t_first: float | None = None
        self._t_end: float | None = None
        self._timing: Timing | None = None
        self._callbacks: list[Callable[[Any], None]] = []
        # tool rounds (set by Session when tools are Python functions)
        self.tool_functions: dict[str, Callable[..., Any]] = {}
        self.max_tool_rounds = DEFAULT_MAX_TOOL_ROUNDS
        self.tool_results: list[ToolResult] = []
        self.round_messages: list[dict[str, Any]] = []
        self.rounds = 1
        self._round_start = 0
        self._round_text = 0

    # -- what the caller reads -------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once the stream has ended: finished, stopped or failed."""
        return self._finished

    @property
    def thinking(self) -> str:
        """The thinking text received so far."""
        return "".join(self._thinking)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls the model asked for."""
        return list(self._tool_calls)

    @property
    def timing(self) -> Timing:
        """Timing of the reply (final once the stream has ended)."""
        if self._timing is not None:
            return self._timing
        now = _clock()
        return Timing.from_stats(
            self._final,
            ttft_s=self._elapsed(self._t_sent, self._t_first),
            wall_s=self._elapsed(self._t_start, now),
            chunks=self._chunks,
        )

    @property
    def elapsed_s(self) -> float:
        """Seconds since the request was first sent (0 before)."""
        return self._elapsed(self._t_start, self._t_end or _clock()) or 0.0

    @property
    def output_chunks(self) -> int:
        """How many content or thinking chunks have arrived."""
        return self._chunks

    def partial_text(self) -> str:
        """The content received so far, without waiting for the rest."""
        return "".join(self._content)

    def last_round_text(self) -> str:
        """The content of the last round only (the answer after any tool calls)."""
        return "".join(self._content[self._round_text :])

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(reply)`` once when the stream ends (at once if it already has)."""
        if self._finished:
            callback(self)
        else:
            self._callbacks.append(callback)

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "failed" if self.error else "done" if self._finished else "open"
        text = self.partial_text()
        preview = text[:40] + ("…" if len(text) > 40 else "")
        return f"<{type(self).__name__} {self.model} {self.endpoint} {state}: {preview!r}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_markdown_(self) -> str:
        from ._markdown import escape_untrusted

        return escape_untrusted(self.partial_text())

    # -- the stream --------------------------------------------------------------------------
    @staticmethod
    def _elapsed(start: float | None, end: float | None) -> float | None:
        return end - start if start is not None and end is not None else None

    def _stop_check(self) -> bool:
        return self._stop_requested

    def _mark_sent(self) -> None:
        self._t_sent = _clock()

    def _feed(self, data: bytes) -> Sequence[Chunk]:
        """Turn a piece of the body into chunks (complete lines only)."""
        if data[-1:] == b"\n" and data.count(b"\n") == 1 and self._buffer.empty:
            # the usual case: Ollama flushes one line per HTTP chunk
            chunk = self._take(data)
            return (chunk,) if chunk is not None else ()
        chunks = []
        for line in self._buffer.feed(data):
            chunk = self._take(line)
            if chunk is not None:
                chunks.append(chunk)
        return chunks

    def _take(self, line: bytes) -> Chunk | None:
        if self._final is not None:
            return None  # nothing counts after the done line
        obj = parse_line(line)
        if obj is None:
            if not line.strip():
                return None  # a blank line is no news
            self.malformed_lines += 1
            warnings.warn(
                f"skipped a malformed line from Ollama: {line[:80]!r}", MalformedLineWarning, stacklevel=2
            )
            return None
        if "error" in obj:
            raise StreamError(
                str(obj["error"]), kept=len(self.partial_text()), reply=self, source=f"{self.model} at {self.host}"
            )
        if self._is_chat:
            message = obj.get("message") or {}
            content = message.get("content") or ""
            thinking = message.get("thinking") or ""
            wire_calls = message.get("tool_calls")
        else:
            content = obj.get("response") or ""
            thinking = obj.get("thinking") or ""
            wire_calls = obj.get("tool_calls")
        calls: tuple[ToolCall, ...] = ()
        if wire_calls:
            try:
                calls = tuple(ToolCall.from_wire(c) for c in wire_calls)
            except ToolError as exc:
                self.notes.append(f"ignored a malformed tool call: {exc}")
            self._tool_calls.extend(calls)
        if content or thinking:
            self._chunks += 1
            if self._t_first is None:
                self._t_first = _clock()
            if content:
                self._content.append(content)
            if thinking:
                self._thinking.append(thinking)
        done = obj.get("done") is True
        if done:
            self._final = obj
        return Chunk(content, thinking, calls, done, obj)

    def _end_of_body(self) -> None:
        """The body ended: a last line without newline counts; no done line is an error."""
        rest = self._buffer.flush()
        if rest:
            self._take(rest)
        if self._final is None and not self._stop_requested:
            raise ConnectionLostError(self.host, kept=len(self.partial_text()), reply=self)

    def _next_round(self) -> Chunk | None:
        """After a round that asked for tools: run them, extend the request, return their chunk.

        None when there is no further round (no tools asked, none to run, or the bound reached).
        """
        calls = self._tool_calls[self._round_start :]
        if not calls or not self.tool_functions or self._stop_requested or self._final is None:
            return None
        if self.rounds > self.max_tool_rounds:
            self.notes.append(f"stopped after {self.max_tool_rounds} rounds of tool calls")
            return None
        results = tuple(run_tool_call(call, self.tool_functions) for call in calls)
        self.tool_results.extend(results)
        text = "".join(self._content[self._round_text :])
        assistant: dict[str, Any] = {"role": "assistant", "content": text, "tool_calls": [c.as_wire() for c in calls]}
        added = [assistant, *(r.as_message() for r in results)]
        self.round_messages.extend(added)
        self.request = {**self.request, "messages": [*self.request["messages"], *added]}
        self.rounds += 1
        self._round_start = len(self._tool_calls)
        self._round_text = len(self._content)
        self._final = None
        self._buffer = LineBuffer()
        return Chunk(tool_results=results)

    def _summary_chunk(self) -> Chunk:
        return Chunk(self.partial_text(), self.thinking, tuple(self._tool_calls), True, self._final or {})

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._t_end = _clock()
        if self._final is None and self.error is None:
            self.stopped = True
        if self._final is not None:
            reason = self._final.get("done_reason")
            self.done_reason = reason if isinstance(reason, str) else None
        self._timing = Timing.from_stats(
            self._final,
            ttft_s=self._elapsed(self._t_sent, self._t_first),
            wall_s=self._elapsed(self._t_start, self._t_end),
            chunks=self._chunks,
        )
        if self.done_reason == "length":
            self.notes.append("cut at the length limit (num_predict or the context window)")
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception as exc:  # a recorder must never break the stream
                warnings.warn(f"a reply callback failed: {exc!r}", RuntimeWarning, stacklevel=2)

    def _failure(self, exc: Exception) -> OllamaError | None:
        """The error to raise for ``exc`` met while streaming; None when a requested stop explains it.

        A server error line (StreamError) is raised even after a stop: it is what the server said.
        """
        if self._stop_requested and not isinstance(exc, StreamError):
            return None
        if not isinstance(exc, OllamaError):
            from ._protocol import read_error

            exc = read_error(exc, self.host, kept=len(self.partial_text()), reply=self)
        return self._fail(exc)

    def _fail(self, exc: OllamaError) -> OllamaError:
        exc.reply = self
        self.error = exc
        return exc


class Reply(BaseReply):
    """A streaming reply read synchronously; see the module docstring.

    Example:
        >>> with Client().chat("llama3.2", messages) as reply:   # doctest: +SKIP
        ...     for chunk in reply:
        ...         print(chunk.content, end="", flush=True)
        >>> reply.text, reply.stopped, reply.timing.ttft_s         # doctest: +SKIP
    """

    def __init__(self, client: Client, *, model: str, endpoint: str, body: dict[str, Any]) -> None:
        super().__init__(model=model, endpoint=endpoint, body=body, host=client.host)
        self._client = client

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
        self._started = True
        self._t_start = _clock()
        try:
            while True:
                self._response = self._client._open_stream(self)
                if self._response is None:
                    return
                body = _body_bytes(self._response)
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
                tools_chunk = self._next_round()
                if tools_chunk is None:
                    break
                self._response.close()
                yield tools_chunk
        except (OllamaError, httpx.HTTPError) as exc:
            error = self._failure(exc)
            if error is not None:
                raise error from (exc.__cause__ if error is exc else exc)
        finally:
            self.close()

    def sse(self) -> ReplyEvents:
        """The reply as Server-Sent Events (UTF-8 bytes); closing or cancelling them stops the reply.

        Flask: ``Response(reply.sse(), mimetype="text/event-stream")``; FastAPI:
        ``StreamingResponse(reply.sse(), media_type="text/event-stream")`` (iterated there
        asynchronously, each read in a worker thread, so a disconnect stops the reply at once).
        Events and framing: :mod:`ollama_nb._sse`.

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
            _shutdown_connection(self._response)
        if not self._started:
            self.close()
        elif not self._in_read:
            # suspended between chunks: it has ended now; the generator releases the
            # (already shut) connection when it is resumed or collected
            self._finish()

    def close(self) -> None:
        """Release the connection; a reply closed before its end is marked stopped."""
        response, self._response = self._response, None
        if response is not None:
            if self._final is None:
                _shutdown_connection(response)
            response.close()
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
    """

    def __init__(self, client: AsyncClient, *, model: str, endpoint: str, body: dict[str, Any]) -> None:
        super().__init__(model=model, endpoint=endpoint, body=body, host=client.host)
        self._client = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: asyncio.Task[Any] | None = None
        self._cancelled_by_stop = False

    @property
    def text(self) -> str:
        """The content received so far (all of it once the stream has ended)."""
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
        self._started = True
        self._loop = asyncio.get_running_loop()
        self._t_start = _clock()
        try:
            while True:
                self._response = await self._guarded(self._client._aopen_stream(self))
                if self._response is None:
                    return
                body = _abody_bytes(self._response)
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
                tools_chunk = self._next_round()
                if tools_chunk is None:
                    break
                await self._response.aclose()
                yield tools_chunk
        except _Stopped:
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
        disconnect cancels it, which closes the Ollama stream at once. Events: :mod:`ollama_nb._sse`.

        Example:
            >>> reply = await client.chat("llama3.2", messages)   # doctest: +SKIP
            >>> return StreamingResponse(reply.sse(), media_type="text/event-stream")   # doctest: +SKIP
        """
        return aiter_sse(self)

    async def _guarded(self, awaitable: Any) -> Any:
        """Await ``awaitable`` so that ``stop()`` can interrupt it."""
        if self._stop_requested:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise _Stopped
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
                raise _Stopped from None
            raise
        finally:
            self._waiting = None

    def stop(self) -> None:
        """Stop generating: close the connection now (callable from any thread); keep the text."""
        if self._finished:
            return
        self._stop_requested = True
        if self._response is not None:
            _shutdown_connection(self._response)  # the server sees the close now, from any thread
        loop = self._loop
        if loop is None or loop.is_closed():
            if not self._started or self._response is None:
                self._finish()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
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
                _shutdown_connection(response)
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
                    _shutdown_connection(self._response)
                self._finish()
            except Exception:
                pass
