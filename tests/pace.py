"""How closely shown text follows a paced reply: per-token lag, pauses, updates per second.

A paced reply is a script of numbered words (``w0 w1 … w11.``, a paragraph every 80 words), so
the highest number in what a front end shows says how far the shown text has got. Token ``k``
of a reply paced at ``delay`` seconds is sent no earlier than ``start + k * delay`` (the
simulator paces by deadline from the request), so a lag measured against that time is an upper
bound of the true one.

Example:
    >>> pace = Pace(token_times=[0.0, 0.1, 0.2], shown=[(0.05, 0), (0.3, 2)])
    >>> [round(lag, 2) for lag in pace.lags()], round(pace.max_pause(), 2)
    ([0.05, 0.2, 0.1], 0.25)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

_WORD = re.compile(r"\bw(\d+)\b")

#: The issue's targets: shown text trails by at most 0.5 s and never pauses longer than 0.5 s,
#: and traffic stays within 5x the reply plus 1 KB per second of streaming.
MAX_LAG_S = 0.5
MAX_PAUSE_S = 0.5
TIMES_REPLY = 5
BYTES_PER_SECOND = 1024

#: For a browser page (``page.evaluate(WATCH_OUTPUTS, index)``): records (epoch seconds, highest
#: numbered word shown) in ``window.__onbShown`` at every change of cell ``index``'s outputs.
WATCH_OUTPUTS = """(index) => {
  window.__onbShown = [];
  if (window.__onbObserver) window.__onbObserver.disconnect();
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  let highest = -1;
  window.__onbObserver = new MutationObserver(() => {
    const area = cell.querySelector('.jp-OutputArea');
    if (!area) return;
    let top = -1;
    for (const m of area.textContent.matchAll(/\\bw(\\d+)\\b/g)) top = Math.max(top, Number(m[1]));
    if (top !== highest) {
      highest = top;
      window.__onbShown.push([(performance.timeOrigin + performance.now()) / 1000, top]);
    }
  });
  window.__onbObserver.observe(cell, {subtree: true, childList: true, characterData: true});
}"""


def paced_words(count: int) -> list[str]:
    """``count`` numbered words as a model writes them: sentences of 12, a paragraph every 80."""
    words = []
    for k in range(count):
        before = "" if k == 0 else ("\n\n" if k % 80 == 0 else " ")
        after = "." if k % 12 == 11 or k % 80 == 79 else ""
        words.append(f"{before}w{k}{after}")
    return words


def paced_prompt(count: int, tokens_per_s: float) -> str:
    """A prompt for the simulator: ``count`` numbered words at ``tokens_per_s``."""
    return f"Count [[script={json.dumps(paced_words(count))}]] [[delay={1 / tokens_per_s:g}]]"


def highest_word(text: str) -> int:
    """The highest numbered word in ``text`` (-1 when there is none)."""
    return max((int(m.group(1)) for m in _WORD.finditer(text)), default=-1)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


@dataclass
class Pace:
    """Token ``k`` arrived at ``token_times[k]``; ``shown`` holds (time, highest token shown)."""

    token_times: list[float]
    shown: list[tuple[float, int]] = field(default_factory=list)

    def lags(self) -> list[float]:
        """Per token: its time → the first time it (or a later one) was shown (inf: never)."""
        lags, index, reached, last_seen = [], 0, -1, math.inf
        for k, arrived in enumerate(self.token_times):
            while reached < k and index < len(self.shown):
                seen_at, highest = self.shown[index]
                reached = max(reached, highest)
                index += 1
                last_seen = seen_at
            lags.append(max(0.0, last_seen - arrived) if reached >= k else math.inf)
        return lags

    def pauses(self) -> list[float]:
        """Times with no change shown, from the first token to the first change after the last."""
        first, last = self.token_times[0], self.token_times[-1]
        times = [first]
        for seen_at, _ in self.shown:
            if seen_at > first:
                times.append(seen_at)
            if seen_at >= last:
                break
        else:
            times.append(math.inf)  # nothing shown after the last token
        return [b - a for a, b in zip(times, times[1:])]

    def max_pause(self) -> float:
        return max(self.pauses())

    def pauses_over(self, limit: float) -> int:
        return sum(pause > limit for pause in self.pauses())

    def updates_per_s(self) -> float:
        first, last = self.token_times[0], self.token_times[-1]
        inside = sum(1 for t, _ in self.shown if first <= t <= last)
        return inside / max(last - first, 1e-9)

    def figures(self) -> dict[str, float]:
        lags = self.lags()
        return {
            "updates_per_s": round(self.updates_per_s(), 2),
            "p95_lag_s": round(percentile(lags, 0.95), 3),
            "max_lag_s": round(max(lags), 3),
            "max_pause_s": round(self.max_pause(), 3),
            "pauses_over_target": self.pauses_over(MAX_PAUSE_S),
        }
