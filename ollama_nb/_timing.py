"""Timing of one reply: client-side clock readings plus the server's own statistics.

The server reports durations in nanoseconds in its final ``done`` line; they are converted to
seconds once, here.

Example:
    >>> t = Timing.from_stats({"eval_count": 40, "eval_duration": 800_000_000}, ttft_s=0.2, wall_s=1.1)
    >>> t.tokens_per_s
    50.0
    >>> t.output_tokens, t.eval_s
    (40, 0.8)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

__all__ = ["Timing"]

_NS = 1e9


def _number(stats: Mapping[str, Any], key: str) -> float | None:
    """A finite number from the statistics; NaN, infinities, out-of-range and non-numbers are missing."""
    value = stats.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _seconds(stats: Mapping[str, Any], key: str) -> float | None:
    value = _number(stats, key)
    return value / _NS if value is not None else None


def _count(stats: Mapping[str, Any], key: str) -> int | None:
    value = _number(stats, key)
    return int(value) if value is not None else None


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass(frozen=True)
class Timing:
    """How long a reply took and how many tokens it used.

    ``ttft_s`` (request sent → first content or thinking chunk) and ``wall_s`` are measured on
    the client; the rest come from the server's final line when it sent one. When a reply was
    stopped before that line, ``output_tokens`` counts the chunks received and ``tokens_per_s`` is
    estimated from the client clock (``estimated`` is True).
    """

    ttft_s: float | None = None
    wall_s: float | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    tokens_per_s: float | None = None
    load_s: float | None = None
    prompt_eval_s: float | None = None
    eval_s: float | None = None
    server_total_s: float | None = None
    estimated: bool = False

    @classmethod
    def from_stats(
        cls,
        stats: Mapping[str, Any] | None,
        *,
        ttft_s: float | None,
        wall_s: float | None,
        chunks: int = 0,
    ) -> Timing:
        """Combine the final line's statistics (or None) with client-side readings."""
        stats = stats or {}
        eval_count = _count(stats, "eval_count")
        eval_s = _seconds(stats, "eval_duration")
        if eval_count is not None:
            rate = eval_count / eval_s if eval_s else None
            estimated = False
        else:
            eval_count = chunks or None
            span = (wall_s - ttft_s) if (wall_s is not None and ttft_s is not None) else None
            rate = (chunks - 1) / span if chunks > 1 and span and span > 0 else None
            estimated = True
        return cls(
            ttft_s=ttft_s,
            wall_s=wall_s,
            prompt_tokens=_count(stats, "prompt_eval_count"),
            output_tokens=eval_count,
            tokens_per_s=rate,
            load_s=_seconds(stats, "load_duration"),
            prompt_eval_s=_seconds(stats, "prompt_eval_duration"),
            eval_s=eval_s,
            server_total_s=_seconds(stats, "total_duration"),
            estimated=estimated,
        )

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timing:
        """The inverse of :meth:`as_dict` (unknown keys ignored, non-finite numbers missing)."""
        known = cls.__dataclass_fields__
        return cls(**{k: _finite_or_none(v) for k, v in data.items() if k in known})

    def summary(self) -> str:
        """A short human line, e.g. ``'first token 0.21 s · 40 tokens · 50.0 tok/s · 1.10 s'``."""
        parts = []
        if self.ttft_s is not None:
            parts.append(f"first token {self.ttft_s:.2f} s")
        if self.output_tokens is not None:
            parts.append(f"{self.output_tokens} tokens")
        if self.tokens_per_s is not None:
            parts.append(f"{'~' if self.estimated else ''}{self.tokens_per_s:.1f} tok/s")
        if self.wall_s is not None:
            parts.append(f"{self.wall_s:.2f} s")
        return " · ".join(parts)
