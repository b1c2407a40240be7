"""What a batch gives back: :class:`ItemResult` per item and :class:`BatchProgress` snapshots.

Example:
    >>> BatchProgress(total=10, done=4, ok=3, failed=1, not_run=0, tokens=120, elapsed_s=2.0,
    ...               items_per_s=2.0, tokens_per_s=60.0, eta_s=3.0, finished=False).line()
    '4/10 · 3 ok · 1 failed · 2.0 items/s · 60 tok/s · ETA 3.0 s'
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from .._status import ItemStatus as Status

__all__ = ["COLUMNS", "BatchProgress", "ItemResult", "Status", "gpu_seconds", "one_line", "wait_or_stop"]

#: The columns of :meth:`Batch.to_pandas`.
COLUMNS = ("answer", "parsed", "status", "error", "ttft_s", "output_tokens", "tokens_per_s", "host")


@dataclass(frozen=True)
class ItemResult:
    """How one item went. ``status``: ``ok``, ``error``, ``not run`` (stopped or never sent) or
    ``pending``; ``reused`` when the answer came from an earlier run instead of a request."""

    index: Any
    position: int
    prompt: str
    answer: str | None = None
    parsed: Any = None
    status: Status = "pending"
    error: str | None = None
    ttft_s: float | None = None
    output_tokens: int | None = None
    tokens_per_s: float | None = None
    host: str | None = None
    reused: bool = False
    wall_s: float | None = None
    gpu_s: float | None = None  # what the server reported: prompt evaluation + generation, in seconds

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot of a batch for a progress line (counted in the core, read by the view)."""

    total: int
    done: int
    ok: int
    failed: int
    not_run: int
    tokens: int
    elapsed_s: float
    items_per_s: float | None
    tokens_per_s: float | None
    eta_s: float | None
    finished: bool
    reused: int = 0

    def line(self) -> str:
        """``'37/100 · 35 ok · 2 failed · 4.1 items/s · 310 tok/s · ETA 15 s'``"""
        ok = f"{self.ok} ok" + (f" ({self.reused} from an earlier run)" if self.reused else "")
        parts = [f"{self.done}/{self.total}", ok, f"{self.failed} failed"]
        if self.not_run:
            parts.append(f"{self.not_run} not run")
        if self.items_per_s is not None:
            parts.append(f"{self.items_per_s:.1f} items/s")
        if self.tokens_per_s is not None:
            parts.append(f"{self.tokens_per_s:.0f} tok/s")
        if self.eta_s is not None and not self.finished:
            parts.append(f"ETA {_duration(self.eta_s)}")
        elif self.finished:
            parts.append(f"in {_duration(self.elapsed_s)}")
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def gpu_seconds(timing: Any) -> float | None:
    """Prompt evaluation plus generation time the server reported (None when it reported neither)."""
    parts = [t for t in (timing.prompt_eval_s, timing.eval_s) if t is not None]
    return sum(parts) if parts else None


def one_line(exc: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none).

    Example:
        >>> one_line(ValueError("bad value\\nmore detail")), one_line(KeyError())
        ('bad value', 'KeyError')
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def wait_or_stop(changed: threading.Condition, finished: Callable[[], bool], stop: Callable[[], None],
                 timeout: float | None) -> bool:
    """Block until ``finished()`` (True) or ``timeout`` passes (False); Ctrl-C calls ``stop``, waits up
    to 10 s for the end, and re-raises (a batch's and an embedding job's ``wait``)."""
    try:
        with changed:
            return changed.wait_for(finished, timeout)
    except KeyboardInterrupt:
        stop()
        with changed:
            changed.wait_for(finished, 10)
        raise
