"""Which items of a batch already have a finished answer, and where each item is written.

Two calls a batch makes: :meth:`BatchLedger.finished` (is there a finished answer to this exact
request?) and :meth:`BatchLedger.add` (this item has ended). Answers are kept per session in
memory and, when recording is on, in the record: each item is a turn there, tagged with the
batch and outside every conversation, and a finished one is found again by its request key (the
model's digest, the host and its Ollama version, plus the request body) — from another kernel
too. There is one request key, the record's (:func:`ollama_nb._record.request_key`): the memory
uses it too, with the answering host and a stand-in digest while the model's is unknown. An
answer is reused only for the host that gave it (the batch's first host: answers from its other
hosts are kept but not reused). A stopped or failed answer is never reused. The session's
:class:`~ollama_nb._record.SessionRecording` reads and writes the record for the ledger, so a
failing record warns once per session (its turns and batches together); the batch goes on.

Example:
    >>> ledger = BatchLedger()
    >>> ledger.finished({"model": "m", "prompt": "hi", "stream": True}) is None
    True
"""

from __future__ import annotations

import weakref
from typing import Any, Mapping

from .._record import SessionRecording, request_key

__all__ = ["BatchLedger", "ledger_of"]

#: The digest the in-memory key uses while the model's real one is unknown (never written); the
#: model's name follows it, since the record's key leaves the name out (the digest names the model).
_UNKNOWN_DIGEST = "unknown:"


class BatchLedger:
    """Finished batch answers of one session, by request (see the module docstring)."""

    def __init__(self, recording: SessionRecording | None = None) -> None:
        self.recording = recording  # the session's: its record, digests and one warning
        self.digests: dict[str, str | None] = {}
        self.server = ""  # "<host> <Ollama version>": answers are bound to where they came from
        self.host = ""  # the host lookups are for (the batch's first)
        self._answers: dict[str, Any] = {}

    @property
    def record(self) -> Any:
        """The session's record, or None when recording is off."""
        return self.recording.record if self.recording is not None else None

    async def learn_digest(self, client: Any, model: str) -> None:
        """The model's digest (the record's keys need it), as the session's turns learn it: one
        ``/api/tags`` per session; None when unknown or the server cannot say."""
        self.host = client.host
        if self.recording is None or self.record is None:
            return
        self.digests[model] = await self.recording.adigest(client, model)
        self.server = await self.recording.aserver(client) if self.digests[model] else ""

    def _record_key(self, body: Mapping[str, Any]) -> str | None:
        """The record's key of this request; None when off or without the model's digest."""
        digest = self.digests.get(body["model"])
        return request_key("generate", body, digest, server=self.server) if self.record is not None else None

    def _memory_key(self, body: Mapping[str, Any], host: str) -> str | None:
        """The same key for the answers kept in memory, bound to the host that gave them (None: a
        request that is never reused)."""
        digest = self.digests.get(body["model"]) or _UNKNOWN_DIGEST + str(body["model"])
        return request_key("generate", body, digest, server=host)

    def finished(self, body: Mapping[str, Any]) -> Any:
        """The finished answer to this request: an :class:`~ollama_nb.ItemResult` kept in memory,
        a :class:`~ollama_nb.RecordedTurn` from the record, or None."""
        memory = self._memory_key(body, self.host)
        found = self._answers.get(memory) if memory is not None else None
        key = self._record_key(body)
        if found is not None or key is None or self.recording is None:
            return found
        return self.recording.find(key)

    def add(self, body: Mapping[str, Any], result: Any, reply: Any, *, batch: str) -> None:
        """Keep a finished ``result`` for reuse; write the item's turn to the record."""
        answered_by = getattr(reply, "host", self.host)
        memory = self._memory_key(body, answered_by)
        if result.status == "ok" and memory is not None:
            self._answers[memory] = result
        if self.recording is None or reply is None:
            return
        key = self._record_key(body) if answered_by == self.host else None
        self.recording.write_item(reply, sent=body, prompt=result.prompt, digest=self.digests.get(body["model"]),
                                  key=key, batch=batch)


_LEDGERS: weakref.WeakKeyDictionary[SessionRecording, BatchLedger] = weakref.WeakKeyDictionary()


def ledger_of(recording: SessionRecording) -> BatchLedger:
    """The ledger of a session's ``recording`` (made on first use), writing to its record."""
    ledger = _LEDGERS.get(recording)
    if ledger is None:
        ledger = _LEDGERS[recording] = BatchLedger(recording)
    return ledger
