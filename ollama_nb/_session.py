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
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, TypeVar

from ._context_window import SMALLEST_CONTEXT, estimate_tokens, runtime_context
from ._errors import ContextTrimmedWarning, NoModelError, OllamaError, RecordError
from ._files import write_private
from ._finite import finite_json
from ._record import Record, RecordedTurn, SessionRecording
from ._record._recorder import resume_entries
from ._turn import TIMING_COLUMNS, Turn, timing_row
from .batch import Batch, ledger_of, start_batch
from .client import (
    AsyncClient,
    AsyncReply,
    BaseReply,
    ChatRequest,
    Client,
    GenerateRequest,
    Reply,
    resolve_host,
    running_loop,
)

if TYPE_CHECKING:
    import numpy
    import pandas

    from .experiment import Experiment

__all__ = ["Session", "Turn", "forget_sessions", "get_session", "set_session"]

R = TypeVar("R", bound=BaseReply)
S = TypeVar("S", bound="Session")

_FORMAT_VERSION = 1


class Session:
    """Multi-turn history and timing, usable from plain Python and behind the notebook magics.

    ``**options`` of :meth:`chat` are Ollama options (``temperature=0.2``, ``num_ctx=8192``…),
    merged over the session's ``options``. Every turn goes to the record too: ``record`` is a
    :class:`~ollama_nb.Record`, a path, None (``OLLAMA_NB_DB``, else the user's data folder) or
    False (off); ``recording`` is the :class:`SessionRecording` that writes it. ``name`` tags the
    turns (``get_session(name)`` names it); ``notebook`` is the notebook's path when the magics
    know it; ``cache=True`` answers identical requests from the record.

    Example:
        >>> s = Session("llama3.2", name="trip", record=False)
        >>> s.name, s.record, s.cache
        ('trip', None, False)
    """

    def __init__(
        self,
        model: str | None = None,
        system: str | None = None,
        host: str | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        client: Client | None = None,
        name: str | None = None,
        record: Record | str | os.PathLike[str] | bool | None = None,
    ) -> None:
        self.name = name
        self.notebook: str | None = None
        self.cache = False
        self.recording = SessionRecording(record)
        self.model = model
        self.system = system
        self.options: dict[str, Any] = dict(options or {})
        self.host = client.host if client is not None else resolve_host(host)
        self.turns: list[Turn] = []
        self._client = client
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._loopless_client: AsyncClient | None = None
        self._open: BaseReply | None = None
        self._epoch = 0  # bumped by reset(): a reply from before it is not recorded
        self._context: dict[str, int | None] = {}

    def use_host(self, host: str | None) -> None:
        """Talk to another Ollama from the next turn on (the history stays); the same host,
        however written, keeps the open connections."""
        resolved = resolve_host(host)
        if resolved == self.host:
            return
        self.host = resolved
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
        self.recording.new_conversation()

    def timings(self) -> pandas.DataFrame | list[dict[str, Any]]:
        """One row per turn; a pandas DataFrame when pandas is installed, else a list of dicts."""
        rows = [timing_row(number, turn) for number, turn in enumerate(self.turns, 1)]
        try:
            import pandas
        except ImportError:
            return rows
        return pandas.DataFrame(rows, columns=list(TIMING_COLUMNS))

    # -- saving ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the session (settings and every turn) as JSON, to a new 0600 file (an existing
        one only with ``overwrite``; never through a symlink)."""
        data = {
            "ollama_nb_session": _FORMAT_VERSION,
            "model": self.model,
            "system": self.system,
            "options": self.options,
            "host": self.host,
            "turns": [t.as_dict() for t in self.turns],
        }
        write_private(path, finite_json(data, ensure_ascii=False, indent=1), overwrite=overwrite, what="the session")

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, host: str | None = None) -> Session:
        """Read a session written by :meth:`save` (equal history and turns); it talks to ``host``,
        else the configured one (``OLLAMA_HOST``), never silently to the host saved in the file."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise OllamaError(f"no session file at {os.fspath(path)!r}: check the path.") from None
        except OSError as exc:
            raise OllamaError(f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}.") from None
        except (ValueError, RecursionError) as exc:
            raise OllamaError(f"{os.fspath(path)!r} is not a saved session (not JSON: {exc}).") from None
        if not isinstance(data, dict) or "ollama_nb_session" not in data:
            raise OllamaError(f"{os.fspath(path)!r} is not a session saved by ollama_nb.")
        try:
            session = cls(data.get("model"), data.get("system"), host, data.get("options"))
            session.turns = [Turn.from_dict(t) for t in data.get("turns") or []]
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
            detail = " ".join(str(exc).split())[:120]
            raise OllamaError(
                f"{os.fspath(path)!r} is not a valid saved session ({type(exc).__name__}: {detail})."
            ) from None
        return session

    # -- turns -----------------------------------------------------------------------------------
    def chat(
        self, message: str, *, model: str | None = None, images: Sequence[Any] | None = None, cell: int | None = None,
        cache: bool | None = None, **params: Any,
    ) -> Reply:
        """Send the next turn of the conversation; returns its streaming :class:`Reply`.

        ``params`` are :class:`~ollama_nb.ChatRequest` fields (``think``, ``tools``, ``format``,
        ``keep_alive``…) or else Ollama options (``temperature=0.2``…). Python functions in
        ``tools`` are run when the model calls them. ``images`` go with this message.
        ``cache=True`` answers an identical request from the record (default: ``self.cache``).

        Example:
            >>> reply = Session(model="llama3.2").chat("Hi", temperature=0)   # doctest: +SKIP
        """
        model, fields, opts, user = self._prepare(message, model, images, params)
        notes = self._fit(model, opts, user, self._context_length(model, opts, user))
        request = ChatRequest(model=model, messages=[*self.history, user], options=opts, **fields)
        reply = self.recording.open(self.client, request, self._caching(cache), run_tools=True, notes=notes)
        return self._track(reply, message, user, opts, cell)

    async def achat(
        self, message: str, *, model: str | None = None, images: Sequence[Any] | None = None, cell: int | None = None,
        cache: bool | None = None, **params: Any,
    ) -> AsyncReply:
        """The async twin of :meth:`chat`: ``reply = await session.achat(...)``."""
        model, fields, opts, user = self._prepare(message, model, images, params)
        notes = self._fit(model, opts, user, await self._acontext_length(model, opts, user))
        request = ChatRequest(model=model, messages=[*self.history, user], options=opts, **fields)
        reply = self.recording.open(self.aclient, request, self._caching(cache), run_tools=True, notes=notes)
        return self._track(reply, message, user, opts, cell)

    def generate(
        self, prompt: str, *, model: str | None = None, cell: int | None = None, cache: bool | None = None,
        **params: Any,
    ) -> Reply:
        """One prompt to ``/api/generate``: recorded as a turn, not part of the conversation.

        ``params`` are :class:`~ollama_nb.GenerateRequest` fields (``system``, ``images``,
        ``think``…) or else Ollama options; ``system`` defaults to the session's.
        """
        request, opts = self._generate_request(prompt, model, params)
        return self._track(self.recording.open(self.client, request, self._caching(cache)), prompt, None, opts, cell)

    async def agenerate(
        self, prompt: str, *, model: str | None = None, cell: int | None = None, cache: bool | None = None,
        **params: Any,
    ) -> AsyncReply:
        """The async twin of :meth:`generate`."""
        request, opts = self._generate_request(prompt, model, params)
        return self._track(self.recording.open(self.aclient, request, self._caching(cache)), prompt, None, opts, cell)

    # -- many items at once ---------------------------------------------------------------------
    def map(
        self, prompt: str | Callable[[Any], str], items: Any, *, concurrency: int | None = None,
        hosts: Sequence[str] | str | None = None, model: str | None = None, format: Any = None, cache: bool = True,
        namespace: Mapping[str, Any] | None = None, **params: Any,
    ) -> Batch:
        """Send ``prompt`` once per item, concurrently, outside the conversation; returns a
        :class:`Batch` running in a thread of its own (plain Python and notebooks alike).

        ``prompt`` is a template (``{item}``, ``{item.col}``, ``{item[col]}``, ``{index}``) or a
        function of the item; ``items`` a list, tuple, dict, pandas Series or DataFrame; any other
        ``{name}`` of a template comes from ``namespace``. ``params`` are
        :class:`~ollama_nb.GenerateRequest` fields or else Ollama options, as :meth:`generate` takes them.

        Example:
            >>> batch = Session(model="llama3.2").map("Sentiment of: {item}", ["great", "awful"])  # doctest: +SKIP
            >>> batch.to_pandas()                                                                 # doctest: +SKIP
        """
        return self._batch(False, prompt, items, concurrency=concurrency, hosts=hosts, model=model, format=format,
                           cache=cache, namespace=namespace, **params)

    async def amap(
        self, prompt: str | Callable[[Any], str], items: Any, *, concurrency: int | None = None,
        hosts: Sequence[str] | str | None = None, model: str | None = None, format: Any = None, cache: bool = True,
        namespace: Mapping[str, Any] | None = None, **params: Any,
    ) -> Batch:
        """The asyncio twin of :meth:`map`: the batch runs in this loop (``await batch`` for the end)."""
        return self._batch(True, prompt, items, concurrency=concurrency, hosts=hosts, model=model, format=format,
                           cache=cache, namespace=namespace, **params)

    def _batch(self, in_loop: bool, prompt: str | Callable[[Any], str], items: Any, **settings: Any) -> Batch:
        """Start a batch: ``settings`` are :meth:`map`'s keywords (its request's fields among them)."""
        run = {k: settings.pop(k) for k in ("concurrency", "hosts", "cache", "namespace")}
        request = self.request_template(**settings)
        return start_batch(request, prompt, items, in_loop=in_loop, default_host=self.host,
                           ledger=ledger_of(self.recording), **run)

    def experiment(
        self, prompts: Any, items: Any, *, models: Any = None, repeat: int = 1, score: Any = None, format: Any = None,
        hosts: Sequence[str] | str | None = None, concurrency: int | None = None, cache: bool = True,
        name: str | None = None, namespace: Mapping[str, Any] | None = None, **options: Any,
    ) -> Experiment:
        """Ask every prompt of ``prompts`` about every item with every model, ``repeat`` times
        (seeds 0…N−1, or ``seed+i``), score the answers, and return the running :class:`Experiment`.

        ``prompts``: a template, a dict ``name -> template or function``, or a list (``p1``, ``p2``…);
        ``models``: names (default: the session's); ``score``: ``(answer, item) -> number or bool``
        or a dict of them (with ``format``, ``answer`` is the parsed object); ``**options``: Ollama
        options. Cells that already have a finished answer in this session or the record are not sent.

        Example:
            >>> exp = Session(model="llama3.2").experiment("Label: {item}", ["great", "awful"])  # doctest: +SKIP
            >>> exp.wait(); exp.results                                                       # doctest: +SKIP
        """
        from .experiment import Experiment

        return Experiment(self, prompts, items, models=models, repeat=repeat, score=score, format=format, hosts=hosts,
                          concurrency=concurrency, cache=cache, namespace=namespace, name=name, options=options).start()

    # -- embeddings (numpy, pandas: the ``data`` extra) -------------------------------------------
    def embed(
        self, items: Any, *, model: str | None = None, text: Any = None, dimensions: int | None = None,
        truncate: bool | None = None, batch_size: int = 64, hosts: Sequence[str] | str | None = None,
        concurrency: int | None = None, cache: bool = True,
    ) -> numpy.ndarray:
        """A float32 numpy matrix, one row per item in input order.

        ``items``: a list, tuple, pandas Series or DataFrame (then ``text`` is a template such as
        ``"{item.title}: {item.body}"``). Texts go ``batch_size`` per ``/api/embed`` request, across
        ``hosts``; identical texts are sent once; with a record every vector is kept in it, so texts
        embedded before (same model digest, Ollama version, dimensions, truncate) are not sent again.

        Example:
            >>> Session(model="nomic-embed-text").embed(["a cat", "a dog"]).shape   # doctest: +SKIP
            (2, 768)
        """
        from .embeddings import embed_items

        return embed_items(self, items, model=model, text=text, dimensions=dimensions, truncate=truncate,
                           batch_size=batch_size, hosts=hosts, concurrency=concurrency, cache=cache)

    def search(self, query: str, items: Any, *, k: int = 5, model: str | None = None, text: Any = None) -> Any:
        """The ``k`` items most similar to ``query`` (cosine) as a pandas DataFrame: index, score, text.
        The items' vectors come from the record when they were embedded before.

        Example:
            >>> Session(model="nomic-embed-text").search("battery", reviews, k=3)   # doctest: +SKIP
        """
        from .embeddings import search_items

        return search_items(self, query, items, k=k, model=model, text=text)

    # -- the record ------------------------------------------------------------------------------
    @property
    def record(self) -> Record | None:
        """The :class:`~ollama_nb.Record` this session writes every turn to, or None when off."""
        return self.recording.record

    def use_record(self, record: Record | str | os.PathLike[str] | bool | None) -> None:
        """Write to another record from the next turn on (as ``record=`` of the constructor;
        ``OLLAMA_NB_DB`` still wins over a path)."""
        self.recording.use(record)

    def log(self, n: int | None = 20, *, session: str | None = None, search: str | None = None) -> list[RecordedTurn]:
        """Recent turns from the record, newest first (every session's unless ``session=``);
        ``search`` keeps those whose prompt or reply holds every word (full-text search).

        Example:
            >>> Session(record=False).log()
            Traceback (most recent call last):
            ...
            ollama_nb._errors.RecordError: recording is off (OLLAMA_NB_DB=off): there is no record to read.
        """
        return self.need_record().log(n, session=session, search=search)

    @classmethod
    def resume(cls: type[S], name: str, *, record: Record | str | bool | None = None, host: str | None = None) -> S:
        """The conversation last recorded under session ``name``, rebuilt: system prompt, turns,
        model and options. Its next turn sends the whole history and continues that conversation.
        It talks to ``host``, else the configured one (``OLLAMA_HOST``), never silently to the
        recorded host (a record may come from another machine).

        Example:
            >>> s = Session.resume("default")            # doctest: +SKIP
            >>> s.chat("And then?").read()               # doctest: +SKIP
        """
        entries = resume_entries(cls(record=record).need_record(), name)
        chats = [e for e in entries if e.endpoint == "chat"] or entries
        last = chats[-1]
        session = cls(last.model, last.system, host, last.options, name=name, record=record)
        session.turns = [e.as_turn() for e in entries]
        session.recording.conversation = entries[-1].conversation or session.recording.conversation
        return session

    def note_interrupted(self, reply: BaseReply) -> None:
        """Record that ``reply`` ended because the kernel was interrupted (the magics call this)."""
        self.recording.mark(reply, "interrupted")

    def need_record(self) -> Record:
        """The record to read (RecordError when recording is off)."""
        record = self.recording.record
        if record is None:
            raise RecordError("recording is off (OLLAMA_NB_DB=off): there is no record to read.")
        return record

    def _caching(self, cache: bool | None) -> bool:
        return self.cache if cache is None else cache

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
        for closed in [loop for loop in self._async_clients if loop.is_closed()]:
            del self._async_clients[closed]
        loop = running_loop()
        if loop is None:
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

    def request_template(self, *, model: str | None = None, **params: Any) -> GenerateRequest:
        """The ``/api/generate`` request this session sends for a prompt (an empty one here):
        what :meth:`map` fills in per item, built exactly as :meth:`generate` builds its own.

        Example:
            >>> Session(model="m", options={"seed": 1}).request_template(truncate=False).body()
            {'model': 'm', 'prompt': '', 'stream': True, 'options': {'seed': 1}, 'truncate': False}
        """
        return self._generate_request("", model, params)[0]

    def _generate_request(
        self, prompt: str, model: str | None, params: Mapping[str, Any]
    ) -> tuple[GenerateRequest, dict[str, Any]]:
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
        return estimate_tokens([*self.history, user]) > min(
            SMALLEST_CONTEXT, int(opts.get("num_ctx") or SMALLEST_CONTEXT)
        )

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
            self._context[model] = runtime_context(self.client.show(model))
        except OllamaError:
            return None
        return self._context[model]

    async def _acontext_length(self, model: str, opts: Mapping[str, Any], user: Mapping[str, Any]) -> int | None:
        known = self._known_context(model, opts, user)
        if known is not False:
            return known or None
        try:
            self._context[model] = runtime_context(await self.aclient.show(model))
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
        while estimate_tokens([*self.history, user]) > budget:
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

    def _track(
        self, reply: R, prompt: str, user: dict[str, Any] | None, opts: Mapping[str, Any], cell: int | None
    ) -> R:
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
                asked = done.tool_calls[len(done.tool_results) :]
                if asked:
                    answer["tool_calls"] = [c.as_wire() for c in asked]
                messages = (user, *done.round_messages, answer)
            turn = Turn(
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
            self.turns.append(turn)
            self.recording.write(
                done, self, prompt=prompt, messages=messages, in_context=turn.in_context, cell=cell, started_at=started
            )
            if self._open is done:
                self._open = None

        reply.add_done_callback(record)
        return reply


def _close_in_loop(client: AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
    """Close an async client in the loop its connections belong to (nothing to do once it closed)."""
    if loop.is_closed():
        return
    if running_loop() is loop:
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
        session = _SESSIONS[name] = Session(name=name)
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
