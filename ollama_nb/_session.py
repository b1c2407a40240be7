"""A conversation with history and per-turn timing: :class:`Session`, :class:`Turn`.

The session records a :class:`Turn` when a reply's stream ends, is stopped or fails; a stopped or
failed turn keeps its partial text and says so. ``history`` is derived from the turns, so saving
the turns saves everything. Before a turn is sent, the oldest turns are left out if the
conversation would not fit the model's context window (the system message always stays).

Example:
    >>> s = Session(model="llama3.2", system="Be brief.")
    >>> s.history
    [{'role': 'system', 'content': 'Be brief.'}]
    >>> reply = s.chat("Why is the sky blue?")      # doctest: +SKIP
    >>> print(reply.text); s.last.timing.ttft_s       # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import warnings
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence, TypeVar

from ._client import AsyncClient, Client
from ._errors import ContextTrimmedWarning, NoModelError, OllamaError
from ._host import resolve_host
from ._reply import AsyncReply, BaseReply, Reply
from ._request import ChatRequest, GenerateRequest
from ._timing import Timing

__all__ = ["Session", "Turn", "forget_sessions", "get_session", "set_session"]

R = TypeVar("R", bound=BaseReply)

_FORMAT_VERSION = 1
#: The columns of :meth:`Session.timings`, one row per turn.
TIMING_COLUMNS = (
    "turn", "cell", "model", "endpoint", "prompt", "ttft_s", "tokens_per_s",
    "output_tokens", "prompt_tokens", "wall_s", "done_reason", "stopped", "error",
)
#: Below this many (estimated) tokens no model's context can overflow, so no /api/show is needed.
_SMALLEST_CONTEXT = 2048


@dataclass(frozen=True)
class Turn:
    """One call: the prompt, what came back, and how it went."""

    prompt: str
    text: str = ""
    thinking: str = ""
    model: str = ""
    endpoint: str = "chat"
    options: Mapping[str, Any] = field(default_factory=dict)
    stopped: bool = False
    error: str | None = None
    done_reason: str | None = None
    timing: Timing = field(default_factory=Timing)
    cell: int | None = None
    started_at: str = ""
    messages: tuple[Mapping[str, Any], ...] = ()
    in_context: bool = True

    @property
    def status(self) -> str:
        """``'done'``, ``'stopped'``, ``'error'`` or ``'cut at length'``."""
        if self.error:
            return "error"
        if self.stopped:
            return "stopped"
        return "cut at length" if self.done_reason == "length" else "done"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the inverse of :meth:`from_dict`)."""
        data = dataclasses.asdict(self)
        data["options"] = dict(self.options)
        data["messages"] = [dict(m) for m in self.messages]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["timing"] = Timing.from_dict(data.get("timing") or {})
        known["messages"] = tuple(dict(m) for m in data.get("messages") or ())
        known["options"] = dict(data.get("options") or {})
        return cls(**known)

    def __repr__(self) -> str:
        preview = self.text[:40] + ("…" if len(self.text) > 40 else "")
        return f"<Turn {self.endpoint} {self.model} {self.status}: {preview!r}>"


#: Ollama's context window when neither the request nor the model's settings name one.
OLLAMA_DEFAULT_NUM_CTX = 4096


def _runtime_context(details: Any) -> int | None:
    """The window Ollama runs the model with: its ``num_ctx`` setting, else Ollama's default
    (never more than the model was trained for). ``context_length`` alone would be far larger."""
    window = OLLAMA_DEFAULT_NUM_CTX
    for line in details.parameters.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "num_ctx" and value.strip().isdigit():
            window = int(value)
    trained = details.context_length
    return min(trained, window) if trained else window


def _estimate_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """A rough token count (4 characters a token, plus a little per message)."""
    return sum(len(str(m.get("content") or "")) // 4 + 4 for m in messages)


class Session:
    """Multi-turn history and timing, usable from plain Python and behind the notebook magics.

    ``**options`` of :meth:`chat` are Ollama options (``temperature=0.2``, ``num_ctx=8192``…),
    merged over the session's ``options``.
    """

    def __init__(
        self,
        model: str | None = None,
        system: str | None = None,
        host: str | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        client: Client | None = None,
    ) -> None:
        self.model = model
        self.system = system
        self.options: dict[str, Any] = dict(options or {})
        self.host = client.host if client is not None else resolve_host(host)
        self.turns: list[Turn] = []
        self._client = client
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = weakref.WeakKeyDictionary()
        self._loopless_client: AsyncClient | None = None
        self._open: BaseReply | None = None
        self._epoch = 0  # bumped by reset(): a reply from before it is not recorded
        self._context: dict[str, int | None] = {}

    def use_host(self, host: str | None) -> None:
        """Talk to another Ollama from the next turn on (the history stays)."""
        self.host = resolve_host(host)
        self._close_clients()
        self._context = {}

    def __repr__(self) -> str:
        return f"<Session {self.model or '(no model)'} at {self.host}: {len(self.turns)} turns>"

    # -- what the caller reads ---------------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        """The messages as they will be sent: system first, then each turn still in context."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.system}] if self.system else []
        for turn in self.turns:
            if turn.in_context:
                messages.extend(dict(m) for m in turn.messages)
        return messages

    @property
    def last(self) -> Turn | None:
        """The most recent turn, or None."""
        return self.turns[-1] if self.turns else None

    def reset(self) -> None:
        """Forget the conversation (turns and history); model, system and options stay."""
        self._epoch += 1
        self._stop_open()
        self.turns.clear()

    def timings(self) -> Any:
        """One row per turn; a pandas DataFrame when pandas is installed, else a list of dicts."""
        rows = []
        for number, turn in enumerate(self.turns, 1):
            t = turn.timing
            rows.append(
                {
                    "turn": number,
                    "cell": turn.cell,
                    "model": turn.model,
                    "endpoint": turn.endpoint,
                    "prompt": turn.prompt if len(turn.prompt) <= 40 else turn.prompt[:39] + "…",
                    "ttft_s": t.ttft_s,
                    "tokens_per_s": t.tokens_per_s,
                    "output_tokens": t.output_tokens,
                    "prompt_tokens": t.prompt_tokens,
                    "wall_s": t.wall_s,
                    "done_reason": turn.done_reason,
                    "stopped": turn.stopped,
                    "error": turn.error,
                }
            )
        try:
            import pandas
        except ImportError:
            return rows
        return pandas.DataFrame(rows, columns=list(TIMING_COLUMNS))

    # -- saving ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the session (settings and every turn) as JSON."""
        data = {
            "ollama_nb_session": _FORMAT_VERSION,
            "model": self.model,
            "system": self.system,
            "options": self.options,
            "host": self.host,
            "turns": [t.as_dict() for t in self.turns],
        }
        try:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=1)
        except OSError as exc:
            raise OllamaError(
                f"cannot write the session to {os.fspath(path)!r}: {exc.strerror or exc}.\n"
                "Check that the folder exists and is writable."
            ) from exc

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, host: str | None = None) -> Session:
        """Read a session written by :meth:`save` (equal history and turns)."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise OllamaError(f"no session file at {os.fspath(path)!r}: check the path.") from None
        except OSError as exc:
            raise OllamaError(f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}.") from None
        except ValueError as exc:
            raise OllamaError(f"{os.fspath(path)!r} is not a saved session (not JSON: {exc}).") from None
        if not isinstance(data, dict) or "ollama_nb_session" not in data:
            raise OllamaError(f"{os.fspath(path)!r} is not a session saved by ollama_nb.")
        session = cls(data.get("model"), data.get("system"), host or data.get("host"), data.get("options"))
        session.turns = [Turn.from_dict(t) for t in data.get("turns") or []]
        return session

    # -- turns -----------------------------------------------------------------------------------
    def chat(self, message: str, *, model: str | None = None, images: Sequence[Any] | None = None, cell: int | None = None, **params: Any) -> Reply:
        """Send the next turn of the conversation; returns its streaming :class:`Reply`.

        ``params`` are :class:`~ollama_nb.ChatRequest` fields (``think``, ``tools``, ``format``,
        ``keep_alive``…) or else Ollama options (``temperature=0.2``…). Python functions in
        ``tools`` are run when the model calls them. ``images`` go with this message.

        Example:
            >>> reply = Session(model="llama3.2").chat("Hi", temperature=0)   # doctest: +SKIP
        """
        model, fields, opts, user = self._prepare(message, model, images, params)
        notes = self._fit(model, opts, user, self._context_length(model, opts, user))
        request = ChatRequest(model=model, messages=[*self.history, user], options=opts, **fields)
        return self._track(self.client.reply(request, run_tools=True, notes=notes), message, user, opts, cell)

    async def achat(self, message: str, *, model: str | None = None, images: Sequence[Any] | None = None, cell: int | None = None, **params: Any) -> AsyncReply:
        """The async twin of :meth:`chat`: ``reply = await session.achat(...)``."""
        model, fields, opts, user = self._prepare(message, model, images, params)
        notes = self._fit(model, opts, user, await self._acontext_length(model, opts, user))
        request = ChatRequest(model=model, messages=[*self.history, user], options=opts, **fields)
        return self._track(self.aclient.reply(request, run_tools=True, notes=notes), message, user, opts, cell)

    def generate(self, prompt: str, *, model: str | None = None, cell: int | None = None, **params: Any) -> Reply:
        """One prompt to ``/api/generate``: recorded as a turn, not part of the conversation.

        ``params`` are :class:`~ollama_nb.GenerateRequest` fields (``system``, ``images``,
        ``think``…) or else Ollama options; ``system`` defaults to the session's.
        """
        request, opts = self._generate_request(prompt, model, params)
        return self._track(self.client.reply(request), prompt, None, opts, cell)

    async def agenerate(self, prompt: str, *, model: str | None = None, cell: int | None = None, **params: Any) -> AsyncReply:
        """The async twin of :meth:`generate`."""
        request, opts = self._generate_request(prompt, model, params)
        return self._track(self.aclient.reply(request), prompt, None, opts, cell)

    # -- clients ---------------------------------------------------------------------------------
    @property
    def client(self) -> Client:
        """The blocking client (made on first use)."""
        if self._client is None:
            self._client = Client(self.host)
        return self._client

    @property
    def aclient(self) -> AsyncClient:
        """The async client for the running event loop (one per loop: pools are loop-bound).

        Clients are kept per loop object, weakly: a closed loop's client is dropped, never handed
        back (its connections died with the loop).
        """
        for loop in [loop for loop in self._async_clients if loop.is_closed()]:
            del self._async_clients[loop]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if self._loopless_client is None:
                self._loopless_client = AsyncClient(self.host)
            return self._loopless_client
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = AsyncClient(self.host)
        return client

    def _close_clients(self) -> None:
        """Close every client (sync at once; async ones in their own loop when it still runs)."""
        if self._client is not None:
            self._client.close()
        self._client = None
        for loop, client in list(self._async_clients.items()):
            _close_in_loop(client, loop)
        self._async_clients = weakref.WeakKeyDictionary()
        self._loopless_client = None

    # -- internals -------------------------------------------------------------------------------
    def _model(self, model: str | None) -> str:
        chosen = model or self.model
        if not chosen:
            raise NoModelError()
        return chosen

    def _prepare(
        self, message: str, model: str | None, images: Sequence[Any] | None, params: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
        """``(model, request fields, Ollama options, user message)`` of a chat turn."""
        chosen = self._model(model)
        fields, options = ChatRequest.split(params)
        self._stop_open()
        user: dict[str, Any] = {"role": "user", "content": message}
        if images:
            from ._images import encode_images

            user["images"] = encode_images(images)
        return chosen, fields, {**self.options, **options}, user

    def _generate_request(self, prompt: str, model: str | None, params: Mapping[str, Any]) -> tuple[GenerateRequest, dict[str, Any]]:
        fields, options = GenerateRequest.split(params)
        fields["system"] = fields.get("system") or self.system
        opts = {**self.options, **options}
        return GenerateRequest(model=self._model(model), prompt=prompt, options=opts, **fields), opts

    def _stop_open(self) -> None:
        """One reply in flight: a new turn stops the previous one if it is still open."""
        if self._open is not None and not self._open.done:
            self._open.stop()
        self._open = None

    def _needs_context(self, opts: Mapping[str, Any], user: Mapping[str, Any]) -> bool:
        return _estimate_tokens([*self.history, user]) > min(_SMALLEST_CONTEXT, int(opts.get("num_ctx") or _SMALLEST_CONTEXT))

    def _known_context(self, model: str, opts: Mapping[str, Any], user: Mapping[str, Any]) -> int | None | bool:
        """The context window when known without asking the server; False when it must be asked."""
        if opts.get("num_ctx"):
            return int(opts["num_ctx"])
        if not self._needs_context(opts, user):
            return None
        return self._context.get(model, False)

    def _context_length(self, model: str, opts: Mapping[str, Any], user: Mapping[str, Any]) -> int | None:
        known = self._known_context(model, opts, user)
        if known is not False:
            return known or None
        try:
            self._context[model] = _runtime_context(self.client.show(model))
        except OllamaError:
            return None
        return self._context[model]

    async def _acontext_length(self, model: str, opts: Mapping[str, Any], user: Mapping[str, Any]) -> int | None:
        known = self._known_context(model, opts, user)
        if known is not False:
            return known or None
        try:
            self._context[model] = _runtime_context(await self.aclient.show(model))
        except OllamaError:
            return None
        return self._context[model]

    def _fit(self, model: str, opts: Mapping[str, Any], user: Mapping[str, Any], context: int | None) -> list[str]:
        """Leave out the oldest turns until the conversation fits ``context`` tokens."""
        if not context:
            return []
        reserve = min(int(opts.get("num_predict") or 512), context // 4)
        budget = context - reserve
        dropped = 0
        while _estimate_tokens([*self.history, user]) > budget:
            index = next((i for i, t in enumerate(self.turns) if t.in_context and t.messages), None)
            if index is None:
                break
            self.turns[index] = dataclasses.replace(self.turns[index], in_context=False)
            dropped += 1
        if not dropped:
            return []
        note = (
            f"left out the {dropped} oldest turn{'s' if dropped > 1 else ''} so the conversation fits "
            f"the context window of {model} ({context} tokens)"
        )
        warnings.warn(note, ContextTrimmedWarning, stacklevel=3)
        return [note]

    def _track(self, reply: R, prompt: str, user: dict[str, Any] | None, opts: Mapping[str, Any], cell: int | None) -> R:
        """Record a :class:`Turn` when ``reply`` ends (unless the session was reset meanwhile)."""
        started = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        self._open = reply
        epoch = self._epoch

        def record(done: BaseReply) -> None:
            if epoch != self._epoch:
                return
            messages: tuple[dict[str, Any], ...] = ()
            if user is not None:
                answer: dict[str, Any] = {"role": "assistant", "content": done.last_round_text()}
                asked = done.tool_calls[len(done.tool_results):]
                if asked:
                    answer["tool_calls"] = [c.as_wire() for c in asked]
                messages = (user, *done.round_messages, answer)
            self.turns.append(
                Turn(
                    prompt=prompt,
                    text=done.partial_text(),
                    thinking=done.thinking,
                    model=done.model,
                    endpoint=done.endpoint,
                    options=dict(opts),
                    stopped=done.stopped,
                    error=str(done.error) if done.error else None,
                    done_reason=done.done_reason,
                    timing=done.timing,
                    cell=cell,
                    started_at=started,
                    messages=messages,
                    # in the conversation only if the model answered something
                    in_context=user is not None and done.error is None and bool(done.partial_text() or done.tool_calls),
                )
            )
            if self._open is done:
                self._open = None

        reply.add_done_callback(record)
        return reply


def _close_in_loop(client: AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
    """Close an async client in the loop its connections belong to (nothing to do once it closed)."""
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(client.aclose())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)
    elif loop.is_running():
        asyncio.run_coroutine_threadsafe(client.aclose(), loop)
    else:
        loop.run_until_complete(client.aclose())


#: Tasks closing clients, kept referenced until they finish.
_CLOSING: set[asyncio.Task[None]] = set()

_SESSIONS: dict[str, Session] = {}


def get_session(name: str = "default") -> Session:
    """The named session that the notebook magics use (made on first use).

    Example:
        >>> get_session() is get_session("default")
        True
    """
    session = _SESSIONS.get(name)
    if session is None:
        session = _SESSIONS[name] = Session()
    return session


def set_session(name: str, session: Session) -> None:
    """Make ``session`` the one :func:`get_session` returns for ``name`` (``%ollama load`` uses it).

    Example:
        >>> set_session("draft", Session(model="llama3.2")); get_session("draft").model
        'llama3.2'
    """
    _SESSIONS[name] = session


def forget_sessions() -> None:
    """Forget every named session (a fresh start for the magics; tests use it)."""
    _SESSIONS.clear()
