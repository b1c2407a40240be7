"""Which items of a batch already have a finished answer, and where each answer is written.

Two calls a batch makes, nothing more: :meth:`BatchLedger.finished` (is there a finished answer to
this exact request?) and :meth:`BatchLedger.add` (keep this item's answer). The ledger keeps them
per session in memory; the record of issue 10 (SQLite, shared across kernels) plugs in behind the
same two calls. A stopped or failed answer is never kept for reuse.

Example:
    >>> ledger = BatchLedger()
    >>> body = {"model": "m", "prompt": "hi", "stream": True}
    >>> ledger.finished(body) is None
    True
"""

from __future__ import annotations

import hashlib
import json
import weakref
from typing import Any, Mapping

__all__ = ["BatchLedger", "ledger_of"]

_TRANSPORT = frozenset({"stream", "keep_alive"})


def body_key(body: Mapping[str, Any]) -> str:
    """A hash of what determines the answer: the request body minus transport details."""
    what = {k: v for k, v in body.items() if k not in _TRANSPORT}
    text = json.dumps(what, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class BatchLedger:
    """Finished batch answers of one session, by request (see the module docstring)."""

    def __init__(self) -> None:
        self._answers: dict[str, Any] = {}

    def finished(self, body: Mapping[str, Any]) -> Any:
        """The finished :class:`~ollama_nb.ItemResult` for this request, or None."""
        return self._answers.get(body_key(body))

    def add(self, body: Mapping[str, Any], result: Any, reply: Any = None, *, batch: str = "") -> None:
        """Keep ``result`` (only a finished one is kept for reuse)."""
        if result.status == "ok":
            self._answers[body_key(body)] = result


_LEDGERS: "weakref.WeakKeyDictionary[Any, BatchLedger]" = weakref.WeakKeyDictionary()


def ledger_of(session: Any) -> BatchLedger:
    """The ledger of ``session`` (made on first use)."""
    ledger = _LEDGERS.get(session)
    if ledger is None:
        ledger = _LEDGERS[session] = BatchLedger()
    return ledger
