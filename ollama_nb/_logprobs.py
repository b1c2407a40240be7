"""Token log-probabilities (Ollama 0.12.11+): what ``logprobs=True, top_logprobs=N`` brings back.

Each content chunk carries a top-level ``logprobs`` array (not inside ``message``): one entry per
token, ``{"token", "logprob", "bytes"?, "top_logprobs"?}``, the alternatives in the same shape
without their own ``top_logprobs``. The values are kept exactly as sent (floats as Go wrote them).

Example:
    >>> lp = TokenLogprob.from_wire({"token": "Hi", "logprob": -2.3841855e-7, "bytes": [72, 105],
    ...                              "top_logprobs": [{"token": "hi", "logprob": -15.31, "bytes": [104, 105]}]})
    >>> lp.token, lp.logprob, lp.bytes, [t.token for t in lp.top_logprobs]
    ('Hi', -2.3841855e-07, (72, 105), ['hi'])
    >>> round(lp.probability, 6)
    1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ._errors import OllamaError

if TYPE_CHECKING:
    import pandas

__all__ = ["LOGPROB_COLUMNS", "TokenLogprob", "logprobs_frame", "logprobs_from_wire"]

#: The columns of ``reply.logprobs_frame()``, one row per token.
LOGPROB_COLUMNS = ("token", "logprob", "probability", "bytes", "top_tokens", "top_logprobs")


def _finite(value: float) -> float:
    """``value``, or ValueError when it is NaN or infinite (a log-probability is at most 0)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite log-probability: {value}")
    return value


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: its text, log-probability, UTF-8 ``bytes`` and the alternatives
    (``top_logprobs``, named as on the wire and in ollama-python)."""

    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None
    top_logprobs: tuple[TokenLogprob, ...] = ()

    @property
    def probability(self) -> float:
        """``exp(logprob)``, between 0 and 1."""
        return math.exp(self.logprob)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> TokenLogprob:
        """Read one element of a chunk's ``logprobs`` array (``top_logprobs`` nested the same way)."""
        raw_bytes = data.get("bytes")
        top = data.get("top_logprobs") or ()
        return cls(
            token=str(data.get("token") or ""),
            logprob=_finite(float(data.get("logprob") or 0.0)),
            bytes=tuple(int(b) for b in raw_bytes) if isinstance(raw_bytes, list) else None,
            top_logprobs=tuple(cls.from_wire(t) for t in top if isinstance(t, Mapping)),
        )


def logprobs_from_wire(items: Any) -> tuple[TokenLogprob, ...]:
    """A chunk's ``logprobs`` array as :class:`TokenLogprob` values (malformed entries skipped)."""
    if not isinstance(items, list):
        return ()
    found = []
    for item in items:
        if isinstance(item, Mapping):
            try:
                found.append(TokenLogprob.from_wire(item))
            except (TypeError, ValueError):  # a logprob or byte that is not a number: that entry only
                continue
    return tuple(found)


def logprobs_frame(logprobs: Sequence[TokenLogprob] | Iterable[TokenLogprob]) -> pandas.DataFrame:
    """One row per token (:data:`LOGPROB_COLUMNS`), as a pandas DataFrame (pandas imported here)."""
    try:
        import pandas
    except ImportError:
        raise OllamaError(
            "logprobs_frame() needs pandas: `pip install pandas` (reply.logprobs has the same data)."
        ) from None
    rows = [
        {
            "token": lp.token,
            "logprob": lp.logprob,
            "probability": lp.probability,
            "bytes": lp.bytes,
            "top_tokens": [t.token for t in lp.top_logprobs],
            "top_logprobs": [t.logprob for t in lp.top_logprobs],
        }
        for lp in logprobs
    ]
    return pandas.DataFrame(rows, columns=list(LOGPROB_COLUMNS))
