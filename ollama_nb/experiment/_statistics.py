"""The few statistics a comparison needs, in numpy: a bootstrap interval over items, the exact
two-sided sign test, and Bradley–Terry strengths fitted by the MM algorithm.

numpy is imported inside the functions (the ``data`` extra), never by ``import ollama_nb``.

Example:
    >>> round(sign_test(9, 1), 4)
    0.0215
    >>> low, high = bootstrap_interval([1.0, 0.0, 1.0, 1.0])
    >>> 0.0 <= low <= 0.75 <= high <= 1.0
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["BOOTSTRAP_RESAMPLES", "bootstrap_interval", "bradley_terry", "sign_test"]

#: Resamples of the items for a 95% interval (fixed seed: the same data give the same interval).
BOOTSTRAP_RESAMPLES = 2000


def bootstrap_interval(values: Sequence[float], *, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean of ``values`` (one value per item); (nan, nan)
    when there is none."""
    import numpy as np

    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


def sign_test(wins: int, losses: int) -> float:
    """The exact two-sided sign test: the chance of a split at least this uneven among the
    ``wins + losses`` non-tied items if both sides were equally good (1.0 with none)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def bradley_terry(names: Sequence[str], judgements: Sequence[tuple[str, str, bool]], *, iterations: int = 200,
                  resamples: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """Bradley–Terry strengths (geometric mean 1) from ``(winner, loser, tie)`` judgements, fitted
    by the MM algorithm (a tie counts half a win each way), with a 95% bootstrap interval over the
    judgements; one dict per name, strongest first (NaN, and last, for a name never judged).

    Example:
        >>> rows = bradley_terry(["a", "b"], [("a", "b", False)] * 3 + [("b", "a", False)])
        >>> [(r["variant"], r["judgements"]) for r in rows], rows[0]["strength"] > rows[1]["strength"]
        ([('a', 4), ('b', 4)], True)
    """
    import numpy as np

    index = {name: i for i, name in enumerate(names)}
    pairs = np.asarray([(index[w], index[lo], 0.5 if tie else 1.0) for w, lo, tie in judgements
                        if w in index and lo in index], dtype=float).reshape(-1, 3)

    def fit(rows: Any) -> Any:
        k = len(names)
        wins = np.zeros((k, k))
        for w, lo, weight in rows:
            wins[int(w), int(lo)] += weight
            if weight < 1.0:
                wins[int(lo), int(w)] += weight
        games = wins + wins.T
        strength = np.ones(k)
        total_wins = wins.sum(axis=1) + 0.1  # a small prior: a variant that never won stays finite
        for _ in range(iterations):
            denominator = (games / (strength[:, None] + strength[None, :])).sum(axis=1) + 0.2 / (strength + 1)
            strength = total_wins / denominator
            strength = strength / np.exp(np.log(strength).mean())
        return strength

    point = fit(pairs)
    rng = np.random.default_rng(seed)
    draws = np.array([fit(pairs[rng.integers(0, len(pairs), len(pairs))]) for _ in range(resamples)]) \
        if len(pairs) else np.ones((1, len(names)))
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    counts = {name: 0 for name in names}
    for w, lo, _ in judgements:
        if w in counts and lo in counts:
            counts[w] += 1
            counts[lo] += 1
    rows = [{"variant": name, "strength": float(point[i]) if counts[name] else math.nan,
             "low": float(low[i]) if counts[name] else math.nan, "high": float(high[i]) if counts[name] else math.nan,
             "judgements": counts[name]} for i, name in enumerate(names)]
    return sorted(rows, key=lambda r: (not r["judgements"], -r["strength"] if r["judgements"] else 0.0))
