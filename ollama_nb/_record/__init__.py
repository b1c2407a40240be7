"""The record: every turn in a SQLite file, for reading back, resuming and reusing answers.

Core only (stdlib ``sqlite3`` and ``platformdirs``; no IPython). The API a writer outside a
session (a batch) uses::

    from ollama_nb._record import (Record, RecordedTurn, ReplayedReply, canonical_model, entry_from_reply,
                                   open_record, record_path, request_key)

    path = record_path()                            # OLLAMA_NB_DB, else the user's data folder; None: off
    record = open_record(path)                      # the process's one Record for that file (opened lazily)
    digest = {canonical_model(m.name): m.raw.get("digest") for m in client.models()}[canonical_model(model)]
    key = request_key(request.endpoint, request.body(), digest)   # None without a digest: no reuse
    found = record.find(key)                        # the newest finished answer to that request, or None
    reply = (ReplayedReply(request, found, host=client.host)   # yields the recorded text; nothing is sent
             if found is not None else client.reply(request))  # (AsyncReplayedReply: the async twin)
    ...                                             # read the reply
    record.add(entry_from_reply(reply, sent=request.body(), prompt=p, digest=digest,
                                request_key=key, batch="b-1"))   # one INSERT; session=None: no conversation
    record.log(batch="b-1", n=None)                 # the batch's turns, newest first

A session does this inside its replies' opener, when first read (``RecordingReply``: the digest,
the key and the lookup happen at send time, so a reply stays lazy), and writes the turn when it
ends (``SessionRecording.write``). A failing record raises
:class:`~ollama_nb.RecordError` (one line); a session turns that into one
:class:`~ollama_nb.RecordWarning` and keeps the reply in memory.
"""

from __future__ import annotations

from ._cache import request_key
from ._entry import RecordedTurn, entry_from_reply, now_utc
from ._location import DB_ENV, record_path
from ._recorder import SessionRecording, canonical_model
from ._recording_reply import AsyncRecordingReply, RecordingReply
from ._replay import AsyncReplayedReply, ReplayedReply, async_recorded_opener, recorded_lines, recorded_opener
from ._store import Record, fts_query, open_record

__all__ = [
    "DB_ENV",
    "AsyncRecordingReply",
    "AsyncReplayedReply",
    "Record",
    "RecordedTurn",
    "RecordingReply",
    "ReplayedReply",
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
