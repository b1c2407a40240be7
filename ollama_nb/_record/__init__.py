"""The record: every turn in a SQLite file, for reading back, resuming and reusing answers.

Core only (stdlib ``sqlite3`` and ``platformdirs``; no IPython). Who writes what:

- a :class:`~ollama_nb.Session` owns a :class:`SessionRecording` (``session.recording``): its replies
  are :class:`RecordingReply` objects, which learn the model's digest, compute the
  :func:`request_key` and, with ``cache``, look the answer up when first read (a reply stays lazy);
  the turn is written when it ends (``SessionRecording.write``);
- a batch (:mod:`ollama_nb.batch`) writes each item as a turn tagged with the batch, outside every
  conversation, and finds finished items again by the same :func:`request_key`.

A failing record raises :class:`~ollama_nb.RecordError` (one line); a session turns that into one
:class:`~ollama_nb.RecordWarning` and keeps the reply in memory.

Example:
    >>> request_key("generate", {"model": "m", "prompt": "hi", "stream": True}, None) is None   # no digest
    True
"""

from __future__ import annotations

from ._cache import request_key
from ._entry import RecordedTurn, entry_from_reply, now_utc
from ._location import DB_ENV, record_path
from ._recorder import SessionRecording, canonical_model
from ._recording_reply import AsyncRecordingReply, RecordingReply
from ._replay import async_recorded_opener, recorded_lines, recorded_opener
from ._store import Record, fts_query, open_record

__all__ = [
    "DB_ENV",
    "AsyncRecordingReply",
    "Record",
    "RecordedTurn",
    "RecordingReply",
    "SessionRecording",
    "canonical_model",
    "entry_from_reply",
    "fts_query",
    "now_utc",
    "open_record",
    "record_path",
    "async_recorded_opener",
    "recorded_lines",
    "recorded_opener",
    "request_key",
]
