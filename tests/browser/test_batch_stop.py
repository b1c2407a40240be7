"""The Stop button of ``%%ollama --over`` in a real JupyterLab (ipykernel 7 and 6): a click closes
every open stream (the server sees each close), keeps the finished answers, marks the rest not
run, and the cell ends without an error; the next cell runs."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from ollama_nb.simulator import Simulator

CONCURRENCY = 3
#: Median over the streams of click → the server sees the close; generous for a shared 2-core box.
LATENCY_LIMIT_S = 1.0


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.mark.parametrize("kernel", ["onb-k7", "onb-k6"])
def test_stop_button_closes_every_stream_and_keeps_the_finished(notebook: Any, sim: Simulator, kernel: str) -> None:
    cells = [
        f'%load_ext ollama_nb\n%config OllamaMagics.host = "{sim.url}"\n%config OllamaMagics.model = "llama3.2"',
        "items = [f'quick {i} [[tokens=2]]' for i in range(3)] + [f'slow {i} [[tokens=4000]] [[delay=0.02]]' for i in range(6)]",
        f"%%ollama --over items -o answers --concurrency {CONCURRENCY}\n{{item}}",
        "print('kept', sum(a is not None for a in answers), 'of', len(answers))",
    ]
    nb = notebook(cells, kernel=kernel)
    nb.run_cell(0)
    nb.run_cell(1)
    nb.run_cell(2, wait=False)
    nb.run_cell(3, wait=False)  # queued behind the batch
    while sum(r.path == "/api/generate" for r in sim.requests) < 3 + CONCURRENCY:
        sim.wait_for("request", timeout=60)  # the quick ones are done, three slow ones stream
    nb.wait_for_output_text(2, "3 ok", timeout=30)
    clicked = nb.click_button("Stop", 2)
    closes = [sim.wait_for("disconnect", timeout=10) for _ in range(CONCURRENCY)]
    latencies = sorted(event.time - clicked for event in closes)
    assert latencies[len(latencies) // 2] < LATENCY_LIMIT_S, latencies
    nb.wait_for_cell_done(2, timeout=30)
    text = nb.wait_for_output_text(2, "stopped", timeout=15)
    assert "9/9 · 3 ok · 0 failed · 6 not run" in text, text
    assert "Traceback" not in text and "Interrupted" not in text
    assert nb.wait_for_output_text(3, "kept", timeout=30).strip() == "kept 3 of 9"
    assert [e.kind for e in sim.events].count("disconnect") == CONCURRENCY
    assert nb.page.locator(".jp-Notebook button.widget-button").count() == 0  # the button is gone
