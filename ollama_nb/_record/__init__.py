"""The record: every turn in a SQLite file, for reading back, resuming and reusing answers.

Core only (stdlib ``sqlite3`` and ``platformdirs``; no IPython). The API a writer outside a
session (a batch) uses::

    from ollama_nb._record import (Record, RecordedTurn, canonical_model, entry_from_reply,
                                   open_record, record_path, replayed, request_key)

    path = record_path()                            # OLLAMA_NB_DB, else the user's data folder; None: off
    record = open_record(path)                      # the process's one Record for that file (opened lazily)
    digest = {canonical_model(m.name): m.raw.get("digest") for m in client.models()}[canonical_model(model)]
    key = request_key("generate", reply.request, digest)   # None without a digest: nothing is reused
    found = record.find(key)                        # the newest finished answer to that request, or None
    if found is not None:
        reply = replayed(found, reply)              # a Reply yielding the recorded text; nothing is sent
    ...                                             # read the reply
    record.add(entry_from_reply(reply, sent=reply.request, prompt=p, digest=digest,
                                request_key=key, batch="b-1"))   # one INSERT; session=None: no conversation
    record.log(batch="b-1", n=None)                 # the batch's turns, newest first

A failing record raises :class:`~ollama_nb.RecordError` (one line); a session turns that into
one :class:`~ollama_nb.RecordWarning` and keeps the reply in memory.
"""

from __future__ import annotations

from ._cache import request_key
from ._entry import RecordedTurn, entry_from_reply, now_utc
from ._location import DB_ENV, record_path
from ._recorder import SessionRecording, canonical_model
from ._replay import AsyncReplayedReply, ReplayedReply, recorded_lines, replayed
from ._store import Record, fts_query, open_record

__all__ = [
    "DB_ENV",
    "AsyncReplayedReply",
    "Record",
    "RecordedTurn",
    "ReplayedReply",
    "SessionRecording",
    "canonical_model",
    "entry_from_reply",
    "fts_query",
    "now_utc",
    "open_record",
    "record_path",
    "recorded_lines",
    "replayed",
    "request_key",
]
