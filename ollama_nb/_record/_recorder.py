"""What a :class:`~ollama_nb.Session` keeps to record its turns and reuse answers.

One per session: the record it writes to (resolved on first use: ``OLLAMA_NB_DB``, else the path
the magics configured, else the user's data folder; off with ``off``), the conversation id (a
reset starts a new one), the model digests (one ``/api/tags`` per session and host, not per turn), and
whether the one warning about a failing record was shown. A failure never reaches the reply:
it streams and is kept in memory, and the session warns once.

Example:
    >>> recording = SessionRecording(False)        # recording off
    >>> recording.record is None
    True
"""

from __future__ import annotations

import os
import uuid
import warnings
import weakref
from typing import Any, Callable, Mapping, Sequence

from .._errors import OllamaConnectionError, OllamaError, OllamaTimeoutError, RecordError, RecordWarning
from ..client import AsyncClient, BaseReply, ChatRequest, Client, Request
from ._entry import RecordedTurn, entry_from_reply
from ._location import record_path
from ._recording_reply import AsyncRecordingReply, RecordingReply
from ._store import Record, open_record

__all__ = ["SessionRecording", "canonical_model", "resume_entries"]

_UNSET: Any = object()


def canonical_model(name: str) -> str:
    """``llama3.2`` → ``llama3.2:latest``, as ``/api/tags`` names it.

    Example:
        >>> canonical_model("llama3.2"), canonical_model("qwen3:8b"), canonical_model("ns/m")
        ('llama3.2:latest', 'qwen3:8b', 'ns/m:latest')
    """
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


class SessionRecording:
    """The record side of one session; see the module docstring.

    ``choice``: a :class:`Record`, a path, ``None`` (the default location) or ``False`` (off).
    """

    def __init__(self, choice: Record | str | os.PathLike[str] | bool | None = None) -> None:
        self._choice = choice
        self._record: Record | None = _UNSET
        self.conversation = uuid.uuid4().hex
        self.digests: dict[str, str | None] = {}
        self._digests_host: str | None = None  # the host ``digests`` came from
        self._server: str | None = None  # "<host> <Ollama version>" of that host, learnt with a key
        self.warned = False
        self._rows: weakref.WeakKeyDictionary[BaseReply, int] = weakref.WeakKeyDictionary()

    # -- where ------------------------------------------------------------------------------------
    @property
    def record(self) -> Record | None:
        """The record this session writes to, or None when recording is off."""
        if self._record is _UNSET:
            choice = self._choice
            if isinstance(choice, Record):
                self._record = choice
            elif choice is False:
                self._record = None
            else:
                path = record_path(None if choice in (None, True) else os.fspath(choice))  # type: ignore[arg-type]
                self._record = open_record(path) if path is not None else None
        return self._record

    def use(self, choice: Record | str | os.PathLike[str] | bool | None) -> None:
        """Write to another record from the next turn on (the magics pass ``%config OllamaMagics.db``)."""
        if choice != self._choice:
            self._choice = choice
            self._record = _UNSET

    def new_conversation(self) -> None:
        self.conversation = uuid.uuid4().hex

    # -- digests ----------------------------------------------------------------------------------
    def _known(self, host: str, model: str) -> tuple[bool, str | None]:
        if host != self._digests_host:  # another host may hold another model under the same name
            self.digests.clear()
            self._digests_host, self._server = host, None
        key = canonical_model(model)
        return key in self.digests, self.digests.get(key)

    def _learn(self, models: Any) -> None:
        for m in models:
            self.digests[canonical_model(m.name)] = str(m.raw.get("digest") or "") or None

    def digest(self, client: Client, model: str, *, strict: bool = False) -> str | None:
        """``model``'s digest (one ``/api/tags`` per session); None when off or unknown.
        ``strict``: a server that cannot be reached raises (the reply then fails once, with it)."""
        if self.record is None:
            return None
        known, digest = self._known(client.host, model)
        if not known:
            try:
                self._learn(client.models())
            except (OllamaConnectionError, OllamaTimeoutError):
                if strict:
                    raise
                return None
            except OllamaError:
                return None  # the turn itself will say what is wrong with the server
            known, digest = self._known(client.host, model)
            if not known:
                self.digests[canonical_model(model)] = None
        return digest

    def server(self, client: Client) -> str:
        """``"<host> <Ollama version>"`` for request keys (one ``/api/version`` per host and session)."""
        self._known(client.host, "")
        if self._server is None:
            try:
                version = client.version()
            except OllamaError:
                version = "?"
            self._server = f"{client.host} {version}"
        return self._server

    async def aserver(self, client: AsyncClient) -> str:
        """The async twin of :meth:`server`."""
        self._known(client.host, "")
        if self._server is None:
            try:
                version = await client.version()
            except OllamaError:
                version = "?"
            self._server = f"{client.host} {version}"
        return self._server

    async def adigest(self, client: AsyncClient, model: str, *, strict: bool = False) -> str | None:
        """The async twin of :meth:`digest`."""
        if self.record is None:
            return None
        known, digest = self._known(client.host, model)
        if not known:
            try:
                self._learn(await client.models())
            except (OllamaConnectionError, OllamaTimeoutError):
                if strict:
                    raise
                return None
            except OllamaError:
                return None
            known, digest = self._known(client.host, model)
            if not known:
                self.digests[canonical_model(model)] = None
        return digest

    # -- opening, reuse and writing ---------------------------------------------------------------
    def open(self, client: Client | AsyncClient, request: Request, cache: bool, *, run_tools: bool = False,
             notes: Sequence[str] = ()) -> Any:
        """The lazy reply to ``request`` from ``client`` (a Reply, or an AsyncReply from an
        AsyncClient): with the record on, one that looks in the record first when ``cache``."""
        if self.record is None:
            return client.reply(request, run_tools=run_tools, notes=notes)
        tools = request.tool_functions() if run_tools and isinstance(request, ChatRequest) else {}
        cls = AsyncRecordingReply if isinstance(client, AsyncClient) else RecordingReply
        return cls(request, client=client, recording=self, cache=cache, tool_functions=tools, notes=notes)  # type: ignore[arg-type]

    def find(self, key: str | None) -> RecordedTurn | None:
        """The recorded answer to reuse for ``key``, or None (a failing record warns once)."""
        record = self.record
        if record is None or key is None:
            return None
        try:
            return record.find(key)
        except RecordError as exc:
            self._warn(exc)
            return None

    def write(self, reply: BaseReply, session: Any, **fields: Any) -> None:
        """Record the turn of ``reply`` (never raises: one warning per session on failure).

        ``fields``: ``prompt``, ``messages``, ``in_context``, ``cell``, ``started_at``.
        """
        record = self.record
        if record is None:
            return
        sent, digest, key, reused = reply.body, None, None, None
        if isinstance(reply, (RecordingReply, AsyncRecordingReply)):  # what its first send learnt
            lookup = reply.lookup
            sent, digest, key, reused = lookup.sent or reply.body, lookup.digest, lookup.key, lookup.found
        self._add(record, reply, lambda: entry_from_reply(
            reply, sent=sent, digest=digest, request_key=key, reused_from=reused.id if reused is not None else None,
            session=session.name, conversation=self.conversation, notebook=session.notebook, **fields,
        ))

    def write_item(self, reply: BaseReply, *, sent: Mapping[str, Any], prompt: str, digest: str | None,
                   key: str | None, batch: str) -> None:
        """Record one batch item: a turn tagged with ``batch``, outside every conversation, found
        again by ``key`` (never raises: the session's one warning on failure)."""
        record = self.record
        if record is None:
            return
        self._add(record, reply, lambda: entry_from_reply(
            reply, sent=sent, prompt=prompt, digest=digest, request_key=key, in_context=False, batch=batch,
        ))

    def write_turn(self, entry: RecordedTurn) -> None:
        """Record a turn made without a reply here (a Ray job's row, answered on another machine);
        never raises: the session's one warning on failure."""
        record = self.record
        if record is None:
            return
        try:
            record.add(entry)
        except RecordError as exc:
            self._warn(exc)

    def _add(self, record: Record, reply: BaseReply, entry: Callable[[], RecordedTurn]) -> None:
        """The one writer: add ``entry()`` for ``reply``; a failure warns once per session."""
        try:
            self._rows[reply] = record.add(entry())
        except RecordError as exc:
            self._warn(exc)
        except (TypeError, ValueError) as exc:  # something in the request that JSON cannot hold
            self._warn(RecordError(f"cannot write this turn to the record: {exc}."))

    def mark(self, reply: Any, status: str) -> None:
        """Change the recorded status of ``reply``'s turn (``interrupted``)."""
        row = self._rows.get(reply)
        record = self.record
        if row is None or record is None:
            return
        try:
            record.set_status(row, status)
        except RecordError as exc:
            self._warn(exc)

    def _warn(self, exc: RecordError) -> None:
        if self.warned:
            return
        self.warned = True
        warnings.warn(
            f"{exc} Answers are kept in memory only (a batch goes on); this session will not warn again "
            "(OLLAMA_NB_DB=off turns recording off).",
            RecordWarning,
            stacklevel=2,
        )


def resume_entries(record: Record, name: str) -> list[RecordedTurn]:
    """The newest conversation of session ``name`` (RecordError when there is none)."""
    entries = record.conversation(name)
    if not entries:
        known = ", ".join(repr(s) for s in record.sessions()[:8]) or "none yet"
        raise RecordError(
            f"no conversation named {name!r} in the record at {str(record.path)!r} (recorded sessions: {known})."
        )
    return entries
