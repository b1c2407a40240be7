"""Pairwise human judgements of an experiment's variants, kept in the record's ``labels`` table
(so a kernel restart keeps them) and in memory when recording is off.

Example:
    >>> labels = Labels(None, "experiment-demo")
    >>> labels.add("r01", "steps · qwen3", "terse · qwen3")
    >>> labels.all()
    [('r01', 'steps · qwen3', 'terse · qwen3', False)]
"""

from __future__ import annotations

import sqlite3
import warnings
from typing import Any

from .._errors import RecordError, RecordWarning

__all__ = ["Labels"]


class Labels:
    """The judgements of one experiment (by its name): ``(item, winner, loser, tie)`` tuples."""

    def __init__(self, session: Any, experiment: str) -> None:
        self.session = session
        self.experiment = experiment
        self._memory: list[tuple[str, str, str, bool]] = []

    def _record(self) -> Any:
        return getattr(self.session, "record", None) if self.session is not None else None

    def add(self, item: Any, winner: str, loser: str, *, tie: bool = False) -> None:
        """Keep one judgement (written to the record at once when recording is on)."""
        if winner == loser:
            raise ValueError("a label compares two different variants.")
        entry = (str(item), winner, loser, bool(tie))
        record = self._record()
        if record is not None:
            from .._record import now_utc

            try:
                record.connection().execute(
                    "INSERT INTO labels (recorded_at, experiment, item, winner, loser, tie, session, notebook) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (now_utc(), self.experiment, *entry[:3], int(tie), getattr(self.session, "name", None),
                     getattr(self.session, "notebook", None)))
                return
            except (RecordError, sqlite3.Error) as exc:
                warnings.warn(f"cannot write the label to the record ({exc}); it is kept in memory only.",
                              RecordWarning, stacklevel=3)
        self._memory.append(entry)

    def all(self) -> list[tuple[str, str, str, bool]]:
        """Every judgement of this experiment, oldest first."""
        record = self._record()
        rows: list[tuple[str, str, str, bool]] = []
        if record is not None:
            try:
                found = record.connection().execute(
                    "SELECT item, winner, loser, tie FROM labels WHERE experiment = ? ORDER BY id", (self.experiment,))
                rows = [(str(i), str(w), str(lo), bool(t)) for i, w, lo, t in found.fetchall()]
            except (RecordError, sqlite3.Error) as exc:
                warnings.warn(f"cannot read the labels from the record ({exc}).", RecordWarning, stacklevel=3)
        return rows + list(self._memory)

    def __len__(self) -> int:
        return len(self.all())
