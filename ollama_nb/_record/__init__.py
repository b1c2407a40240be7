"""The record: every turn in a SQLite file, for reading back, resuming and reusing answers.

Core only (stdlib ``sqlite3`` and ``platformdirs``; no IPython). The API a writer outside a
session (a batch) uses::

    from ollama_nb._record import Record, RecordedTurn, entry_from_reply, open_record, record_path, request_key

    record = open_record(record_path())            # OLLAMA_NB_DB, else the user's data folder (None: off)
    key = request_key("generate", body, digest)    # None without a digest: nothing is reused then
    found = record.find(key)                        # the newest finished answer for that request, or None
    replay = replayed(found, like=unsent_reply)     # a Reply that yields the recorded text, no request
    record.add(entry_from_reply(reply, sent=body, prompt=p, digest=digest, request_key=key, batch="b-1"))
    record.log(batch="b-1", n=None)                 # the batch's turns, newest first

A failing record raises :class:`~ollama_nb.RecordError` (one line); a session turns that into
one :class:`~ollama_nb.RecordWarning` and keeps the reply in memory.
"""

from __future__ import annotations

from ._cache import request_key
from ._entry import RecordedTurn, entry_from_reply, now_utc
from ._location import DB_ENV, record_path
from ._replay import AsyncReplayedReply, ReplayedReply, recorded_lines, replayed
from ._store import Record, fts_query, open_record

__all__ = [
    "DB_ENV",
    "AsyncReplayedReply",
    "Record",
    "RecordedTurn",
    "ReplayedReply",
    "entry_from_reply",
    "fts_query",
    "now_utc",
    "open_record",
    "record_path",
    "recorded_lines",
    "replayed",
    "request_key",
]
