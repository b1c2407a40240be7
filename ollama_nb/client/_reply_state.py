"""The state of a reply while its stream is read: :class:`Chunk` and :class:`BaseReply`.

What the blocking :class:`~ollama_nb.Reply` and the async :class:`~ollama_nb.AsyncReply` share:
turning the body's bytes into chunks, keeping the text, timing and tool rounds, and ending the
stream. Their IO (reading the body, stopping from another thread) lives in :mod:`ollama_nb.client._reply`.
A reply is given everything at construction: its request, the opener that sends it (in
``_reply``), the tool functions to run; it never names the client.
"""

from __future__ import annotations

import socket
import time
import warnings
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NamedTuple, Sequence

import httpx

from .._errors import (
    ConnectionLostError,
    LineTooLongError,
    MalformedLineWarning,
    MalformedReplyError,
    OllamaError,
    StreamError,
    ToolError,
)
from .._logprobs import TokenLogprob, logprobs_frame, logprobs_from_wire
from .._timing import Timing
from .._tools import DEFAULT_MAX_TOOL_ROUNDS, ToolCall, ToolResult
from ._ndjson import DEFAULT_LIMIT, LineBuffer, LineTooLong, parse_line, text_field
from ._protocol import error_text, read_error
from ._request import Request
from ._rounds import ToolRounds

if TYPE_CHECKING:
    import pandas

__all__ = ["BaseReply", "Chunk", "StopRequested", "shutdown_connection", "shutdown_socket"]

#: The ``raw`` of a chunk that stands for no line: empty and read-only (one shared, immutable value).
_NO_LINE: Mapping[str, Any] = MappingProxyType({})

_clock = time.perf_counter


class Chunk(NamedTuple):
    """One line of the stream: the new ``content`` and ``thinking`` text, any ``tool_calls``.

    ``done`` is True on the final line, which carries the server's statistics in ``raw``.
    When a session runs tools, a chunk between rounds carries their ``tool_results``. With
    ``logprobs=True`` a chunk carries its tokens' ``logprobs``.
    Immutable, and cheap to make (a named tuple: one is built per token).
    """

    content: str = ""
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    done: bool = False
    raw: Mapping[str, Any] = _NO_LINE
    tool_results: tuple[ToolResult, ...] = ()
    logprobs: tuple[TokenLogprob, ...] = ()

    def __repr__(self) -> str:
        return f"Chunk(content={self.content!r}, thinking={self.thinking!r}, done={self.done})"


def shutdown_connection(response: httpx.Response) -> None:
    """Send the server a FIN now, even while another thread or the event loop waits on a read."""
    stream = getattr(response, "extensions", {}).get("network_stream")
    try:
        sock = stream.get_extra_info("socket") if stream is not None else None
    except AttributeError:
        sock = None
    if sock is not None:
        shutdown_socket(sock)


def shutdown_socket(sock: socket.socket) -> None:
    """Shut ``sock`` both ways (the server sees the close; a read blocked on it returns); never raises."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass


class StopRequested(Exception):
    """Raised inside a reply's IO when a stop interrupted a wait or a send; the reply ends quietly."""


class BaseReply:
    """What a sync and an async reply share: state, line handling and the end of the stream."""

    def __init__(
        self,
        request: Request,
        *,
        host: str,
        tool_functions: Mapping[str, Callable[..., Any]] | None = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
        notes: Sequence[str] = (),
        max_line_bytes: int = DEFAULT_LIMIT,
    ) -> None:
        self.model = request.model
        self.endpoint = request.endpoint
        #: What was asked for (the request object); :attr:`body` is what it sends.
        self.request = request
        #: The JSON body sent (extended with each tool round's messages).
        self.body: dict[str, Any] = request.body()
        self.host = host
        self.stopped = False
        self.error: OllamaError | None = None
        self.done_reason: str | None = None
        self.malformed_lines = 0
        #: How many times the request was sent, the client's retries included.
        self.sends = 0
        #: The model and host that really answered, when the server reports them (a cloud model
        #: behind a local Ollama: ``remote_model``/``remote_host`` on each chunk); else None.
        self.remote_model: str | None = None
        self.remote_host: str | None = None
        self._logprobs: list[TokenLogprob] = []
        self.notes: list[str] = list(notes)
        self._content: list[str] = []
        self._thinking: list[str] = []
        self._tool_calls: list[ToolCall] = []
        self._final: dict[str, Any] | None = None
        self._chunks = 0
        self._objects = 0  # JSON objects read: a body whose first line is not one is not Ollama's
        self._deferred: OllamaError | None = None
        self._buffer = LineBuffer(max_line_bytes)
        self._is_chat = request.endpoint == "chat"
        self._started = False
        self._finished = False
        self._stop_requested = False
        self._in_read = False
        self._response: httpx.Response | None = None
        self._t_start: float | None = None
        self._t_sent: float | None = None
        self._t_first: float | None = None
        self._t_end: float | None = None
        self._timing: Timing | None = None
        self._callbacks: list[Callable[[BaseReply], None]] = []
        #: The tool-round loop: the functions the model may call, the bound, what each round added.
        self.tool_rounds = ToolRounds(tool_functions, max_rounds=max_tool_rounds)
        self._round_start = 0  # where the streaming round's tool calls and text begin
        self._round_text = 0

    # -- what the caller reads -------------------------------------------------------------
    @property
    def tool_functions(self) -> dict[str, Callable[..., Any]]:
        """The Python functions the model may call (none: its calls are only reported)."""
        return self.tool_rounds.functions

    @property
    def max_tool_rounds(self) -> int:
        """The most rounds of tool calls this reply runs."""
        return self.tool_rounds.max_rounds

    @max_tool_rounds.setter
    def max_tool_rounds(self, value: int) -> None:
        self.tool_rounds.max_rounds = value

    @property
    def tool_results(self) -> list[ToolResult]:
        """Every tool's result, in order, over all rounds."""
        return self.tool_rounds.results

    @property
    def round_messages(self) -> list[dict[str, Any]]:
        """The assistant and tool messages the tool rounds added to the conversation."""
        return self.tool_rounds.messages

    @property
    def rounds(self) -> int:
        """Rounds streamed so far (more than 1 when tools ran)."""
        return self.tool_rounds.count

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
    def logprobs(self) -> list[TokenLogprob]:
        """Each generated token with its log-probability and alternatives (``logprobs=True``).

        Example:
            >>> reply = client.chat("llama3.2", messages, logprobs=True, top_logprobs=2)  # doctest: +SKIP
            >>> [(t.token, round(t.probability, 2)) for t in reply.logprobs]             # doctest: +SKIP
        """
        return list(self._logprobs)

    def logprobs_frame(self) -> pandas.DataFrame:
        """:attr:`logprobs` as a pandas DataFrame, one row per token (pandas is imported here)."""
        return logprobs_frame(self._logprobs)

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

    def stop(self) -> None:
        """Stop generating and keep the text so far (the sync and async replies implement it)."""
        raise NotImplementedError

    def add_done_callback(self, callback: Callable[[BaseReply], None]) -> None:
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
        from .._safe import SafeMarkdown

        return SafeMarkdown.escape(self.partial_text())

    # -- the stream --------------------------------------------------------------------------
    @staticmethod
    def _elapsed(start: float | None, end: float | None) -> float | None:
        return end - start if start is not None and end is not None else None

    def _begin(self) -> None:
        """The first read: the clock starts."""
        self._started = True
        self._t_start = _clock()

    def _before_send(self) -> None:
        """Given to the opener, which calls it before each attempt: a stop ends the reply there."""
        if self._stop_requested:
            raise StopRequested
        self.sends += 1
        self._t_sent = _clock()

    def _feed(self, data: bytes) -> Iterable[Chunk]:
        """Turn a piece of the body into chunks (complete lines only)."""
        if data[-1:] == b"\n" and data.count(b"\n") == 1 and self._buffer.empty and len(data) <= self._buffer.limit:
            # the usual case: Ollama flushes one line per HTTP chunk
            chunk = self._take(data)
            return (chunk,) if chunk is not None else ()
        chunks: list[Chunk] = []
        try:
            lines = self._buffer.feed(data)
        except LineTooLong:
            raise self._too_long() from None
        for line in lines:
            try:
                chunk = self._take(line)
            except OllamaError as exc:
                if not chunks:
                    raise
                self._deferred = exc  # the chunks before the bad line are shown first
                break
            if chunk is not None:
                chunks.append(chunk)
        return chunks

    def _raise_deferred(self) -> None:
        """Raise the error of a bad line met after good ones in the same piece of the body."""
        if self._deferred is not None:
            exc, self._deferred = self._deferred, None
            raise exc

    def _too_long(self) -> LineTooLongError:
        return LineTooLongError(self.host, limit=self._buffer.limit, kept=len(self.partial_text()), reply=self)

    def _malformed(self, detail: str) -> MalformedReplyError:
        return MalformedReplyError(self.host, detail, reply=self)

    def _take(self, line: bytes) -> Chunk | None:
        if self._final is not None:
            return None  # nothing counts after the done line
        obj = parse_line(line)
        if obj is None:
            if not line.strip():
                return None  # a blank line is no news
            if not self._objects:  # an HTML page, a wrong port: one error, not a warning per line
                raise self._malformed(repr(line[:80]))
            self.malformed_lines += 1
            warnings.warn(
                f"skipped a malformed line from Ollama: {line[:80]!r}", MalformedLineWarning, stacklevel=2
            )
            return None
        self._objects += 1
        if "error" in obj:
            raise StreamError(
                error_text(obj["error"]), kept=len(self.partial_text()), reply=self,
                source=f"{self.model} at {self.host}",
            )
        if self._is_chat:
            message = obj.get("message") or {}
            if not isinstance(message, dict):
                raise self._malformed(f"'message' is a {type(message).__name__}, not an object")
            content, thinking = text_field(message, "content"), text_field(message, "thinking")
            wire_calls = message.get("tool_calls")
        else:
            content, thinking = text_field(obj, "response"), text_field(obj, "thinking")
            wire_calls = obj.get("tool_calls")
        if content is None or thinking is None:
            raise self._malformed(f"a text field is not a string: {line[:80]!r}")
        calls: tuple[ToolCall, ...] = ()
        if wire_calls:
            try:
                if not isinstance(wire_calls, list):
                    raise ToolError(f"'tool_calls' must be a list, got {type(wire_calls).__name__}")
                calls = tuple(ToolCall.from_wire(c) for c in wire_calls)
            except ToolError as exc:
                self.notes.append(f"ignored a malformed tool call: {exc}")
            self._tool_calls.extend(calls)
        wire_logprobs = obj.get("logprobs")
        logprobs = logprobs_from_wire(wire_logprobs) if wire_logprobs else ()
        if logprobs:
            self._logprobs.extend(logprobs)
        if self.remote_model is None and "remote_model" in obj:
            self.remote_model = str(obj["remote_model"])
            self.remote_host = str(obj.get("remote_host") or "") or None
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
        return Chunk(content, thinking, calls, done, obj, (), logprobs)

    def _end_of_body(self) -> None:
        """The body ended: a last line without newline counts; no done line is an error."""
        rest = self._buffer.flush()
        if len(rest) > self._buffer.limit:
            raise self._too_long()
        if rest:
            self._take(rest)
        if self._final is None and not self._stop_requested:
            raise ConnectionLostError(self.host, kept=len(self.partial_text()), reply=self)

    def _next_round(self) -> Chunk | None:
        """After a round that asked for tools: run them, extend the body, return their chunk.

        None when there is no further round (no tools asked, none to run, or the bound reached).
        """
        calls = self._tool_calls[self._round_start :]
        if self._stop_requested or self._final is None or not self.tool_rounds.wants_another(calls, self.notes):
            return None
        self._final = None  # the round is over; a Ctrl-C or stop while the tools run is a stop
        text = "".join(self._content[self._round_text :])
        found = self.tool_rounds.next(self.body, calls, text, self.notes)
        if found is None:
            return None
        self.body, results = found
        self._round_start = len(self._tool_calls)
        self._round_text = len(self._content)
        self._buffer = LineBuffer(self._buffer.limit)
        return Chunk(tool_results=results)

    def _summary_chunk(self) -> Chunk:
        return Chunk(
            self.partial_text(),
            self.thinking,
            tuple(self._tool_calls),
            True,
            self._final or _NO_LINE,
            (),
            tuple(self._logprobs),
        )

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
            exc = read_error(exc, self.host, kept=len(self.partial_text()), reply=self)
        return self._fail(exc)

    def _fail(self, exc: OllamaError) -> OllamaError:
        exc.reply = self
        self.error = exc
        return exc
