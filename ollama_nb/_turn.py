"""One call of a session as it is recorded: :class:`Turn`, and its row in ``Session.timings()``.

Example:
    >>> turn = Turn(prompt="Hi", text="Hello!", model="llama3.2")
    >>> turn.status, Turn.from_dict(turn.as_dict()) == turn
    ('done', True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from ._status import TurnStatus, status_of
from ._timing import Timing

__all__ = ["TIMING_COLUMNS", "Turn", "timing_row"]

#: The columns of :meth:`Session.timings`, one row per turn.
TIMING_COLUMNS = (
    "turn", "cell", "model", "endpoint", "prompt", "ttft_s", "tokens_per_s",
    "output_tokens", "prompt_tokens", "wall_s", "done_reason", "stopped", "error",
)


@dataclass(frozen=True)
class Turn:
    """One call: the prompt, what came back, and how it went."""

    prompt: str
    text: str = ""
    thinking: str = ""
    model: str = ""
    endpoint: str = "chat"
    options: Mapping[str, Any] = field(default_factory=dict)
    stopped: bool = False
    error: str | None = None
    done_reason: str | None = None
    timing: Timing = field(default_factory=Timing)
    cell: int | None = None
    started_at: str = ""
    messages: tuple[Mapping[str, Any], ...] = ()
    in_context: bool = True

    @property
    def status(self) -> TurnStatus:
        """``'done'``, ``'stopped'``, ``'error'`` or ``'cut at length'``."""
        return status_of(error=self.error, stopped=self.stopped, done_reason=self.done_reason)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the inverse of :meth:`from_dict`)."""
        data = dataclasses.asdict(self)
        data["options"] = dict(self.options)
        data["messages"] = [dict(m) for m in self.messages]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["timing"] = Timing.from_dict(data.get("timing") or {})
        known["messages"] = tuple(dict(m) for m in data.get("messages") or ())
        known["options"] = dict(data.get("options") or {})
        return cls(**known)

    def __repr__(self) -> str:
        preview = self.text[:40] + ("…" if len(self.text) > 40 else "")
        return f"<Turn {self.endpoint} {self.model} {self.status}: {preview!r}>"


def timing_row(number: int, turn: Turn) -> dict[str, Any]:
    """Turn number ``number`` as a row of :data:`TIMING_COLUMNS`."""
    t = turn.timing
    return {
        "turn": number,
        "cell": turn.cell,
        "model": turn.model,
        "endpoint": turn.endpoint,
        "prompt": turn.prompt if len(turn.prompt) <= 40 else turn.prompt[:39] + "…",
        "ttft_s": t.ttft_s,
        "tokens_per_s": t.tokens_per_s,
        "output_tokens": t.output_tokens,
        "prompt_tokens": t.prompt_tokens,
        "wall_s": t.wall_s,
        "done_reason": turn.done_reason,
        "stopped": turn.stopped,
        "error": turn.error,
    }
