"""A live cell that feels live in JupyterLab and Notebook 7: the page shows a paced reply within 0.5 s.

The simulator paces a reply of numbered words (``tests/pace.py``) at 100 tokens/s (and at 20 in
JupyterLab on ipykernel 7). A MutationObserver in the page stamps every change of the cell's
output area (``performance.timeOrigin + performance.now()``, turned into this machine's monotonic
clock) with the highest word the outputs then show; token ``k`` is sent no earlier than the simulator's request time + ``k`` x the
delay, so the lags measured are upper bounds. Asserted: p95 lag ≤ 0.5 s and no pause longer than
0.5 s in what the page shows while the reply streams; the cell ends as one answer and the footer.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from ollama_nb.simulator import Simulator

from pace import MAX_LAG_S, MAX_PAUSE_S, WATCH_OUTPUTS, Pace, paced_prompt, percentile

from .test_one_output import setup_cell, sim  # noqa: F401  (the same fixture)

SECONDS = 15


def watch_paced_cell(nb: Any, sim: Simulator, tokens_per_s: int, count: int) -> Pace:
    """Run cell 1 (a paced reply) while the page stamps its output changes; the pace the page showed."""
    nb.page.evaluate(WATCH_OUTPUTS, 1)
    nb.run_cell(1, wait=False)
    nb.wait_for_cell_done(1, timeout=count / tokens_per_s + 60)
    offset = time.time() - time.monotonic()
    started = next(r.time for r in sim.requests if r.path in ("/api/chat", "/api/generate"))
    pace = Pace(token_times=[started + k / tokens_per_s for k in range(count)])
    pace.shown = [(float(at) - offset, int(top)) for at, top in nb.page.evaluate("() => window.__onbShown")]
    return pace


@pytest.mark.parametrize(
    ("kernel", "ui", "tokens_per_s"),
    [("onb-k6", "lab", 100), ("onb-k7", "lab", 100), ("onb-k7", "notebook", 100), ("onb-k7", "lab", 20)],
)
def test_the_page_shows_a_paced_reply_within_half_a_second(
    notebook: Any, sim: Simulator, kernel: str, ui: str, tokens_per_s: int
) -> None:
    count = tokens_per_s * SECONDS
    nb = notebook([setup_cell(sim), f"%%ollama\n{paced_prompt(count, tokens_per_s)}"], kernel=kernel, ui=ui)
    nb.run_cell(0)
    pace = watch_paced_cell(nb, sim, tokens_per_s, count)
    figures = pace.figures()
    print(f"\n[{kernel}] {ui}, {tokens_per_s} tokens/s: {figures}")
    assert pace.shown and pace.shown[-1][1] == count - 1, "the page does not end showing the last word"
    assert percentile(pace.lags(), 0.95) <= MAX_LAG_S, figures
    assert pace.max_pause() <= MAX_PAUSE_S, figures
    outputs = nb.outputs(1)
    assert outputs.count() == 2, [outputs.nth(i).inner_text()[:80] for i in range(outputs.count())]
    assert "llama3.2" in (outputs.nth(1).text_content() or "")
