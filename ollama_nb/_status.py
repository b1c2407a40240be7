"""How a turn or a batch item ended: the one vocabulary, and the one rule that decides it.

A reply that has ended is ``error`` when it failed, ``stopped`` when the user stopped it, ``cut at
length`` when the model hit ``num_predict``, else ``done``; the record adds ``interrupted`` (the
kernel was interrupted). :class:`~ollama_nb.Turn`, :class:`~ollama_nb.RecordedTurn` and the record
all use :func:`status_of`. A batch item has its own, coarser vocabulary (:data:`ItemStatus`).

Example:
    >>> status_of(error=None, stopped=False, done_reason="length")
    'cut at length'
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ItemStatus", "TurnStatus", "status_of"]

#: How a turn ended (the record's ``status`` column).
TurnStatus = Literal["done", "stopped", "interrupted", "error", "cut at length"]
#: How a batch item stands: waiting or running, answered, failed, or never sent (stopped first).
ItemStatus = Literal["pending", "ok", "error", "not run"]


def status_of(*, error: object, stopped: bool, done_reason: str | None) -> TurnStatus:
    """The status of a reply or turn that has ended, from its error, stop flag and done reason."""
    if error:
        return "error"
    if stopped:
        return "stopped"
    return "cut at length" if done_reason == "length" else "done"
