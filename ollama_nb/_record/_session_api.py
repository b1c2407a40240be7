"""The record side of a :class:`~ollama_nb.Session`: its name, where it records, reading the record
back (:meth:`~RecordedSession.log`), rebuilding a conversation (:meth:`~RecordedSession.resume`)
and reusing answers (``cache``). A base class, so ``_session.py`` stays about conversations.

Example:
    >>> from ollama_nb import Session
    >>> s = Session("llama3.2", name="trip", record=False)
    >>> s.name, s.record, s.cache
    ('trip', None, False)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import RecordError
from ._entry import RecordedTurn
from ._recorder import SessionRecording, resume_entries
from ._store import Record

if TYPE_CHECKING:
    from .._reply import BaseReply

__all__ = ["RecordedSession"]

S = TypeVar("S", bound="RecordedSession")


class RecordedSession:
    """Every turn of the session goes to the record: ``record`` is a :class:`Record`, a path,
    None (``OLLAMA_NB_DB``, else the user's data folder) or False (off).

    ``name`` tags its turns (``get_session(name)`` names it); ``notebook`` is the notebook's path
    when the magics know it; ``cache=True`` answers identical requests from the record.
    """

    def __init__(self, *, name: str | None = None, record: Record | str | bool | None = None) -> None:
        self.name = name
        self.notebook: str | None = None
        self.cache = False
        self._recording = SessionRecording(record)

    @property
    def record(self) -> Record | None:
        """The :class:`~ollama_nb.Record` this session writes every turn to, or None when off."""
        return self._recording.record

    def use_record(self, record: Record | str | bool | None) -> None:
        """Write to another record from the next turn on (as ``record=`` of the constructor;
        ``OLLAMA_NB_DB`` still wins over a path)."""
        self._recording.use(record)

    def log(self, n: int | None = 20, *, session: str | None = None, search: str | None = None) -> list[RecordedTurn]:
        """Recent turns from the record, newest first (every session's unless ``session=``);
        ``search`` keeps those whose prompt or reply holds every word (full-text search).

        Example:
            >>> from ollama_nb import Session
            >>> Session(record=False).log()
            Traceback (most recent call last):
            ...
            ollama_nb._errors.RecordError: recording is off (OLLAMA_NB_DB=off): there is no record to read.
        """
        return self._need_record().log(n, session=session, search=search)

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
        entries = resume_entries(cls(record=record)._need_record(), name)
        chats = [e for e in entries if e.endpoint == "chat"] or entries
        last = chats[-1]
        session = cls(last.model, last.system, host, last.options, name=name, record=record)  # type: ignore[call-arg]
        session.turns = [e.as_turn() for e in entries]  # type: ignore[attr-defined]
        session._recording.conversation = entries[-1].conversation or session._recording.conversation
        return session

    def note_interrupted(self, reply: BaseReply) -> None:
        """Record that ``reply`` ended because the kernel was interrupted (the magics call this)."""
        self._recording.mark(reply, "interrupted")

    def _caching(self, cache: bool | None) -> bool:
        return self.cache if cache is None else cache

    def _need_record(self) -> Record:
        record = self._recording.record
        if record is None:
            raise RecordError("recording is off (OLLAMA_NB_DB=off): there is no record to read.")
        return record
