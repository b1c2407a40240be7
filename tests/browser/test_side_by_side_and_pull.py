"""Side by side and pull in a real JupyterLab: side-by-side columns with their comparison table, and
the pull progress bar while a model downloads."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from ollama_nb.simulator import Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(pull_seconds=4.0) as simulator:
        yield simulator


def setup_cell(sim: Simulator) -> str:
    return f'%load_ext ollama_nb\n%config OllamaMagics.host = "{sim.url}"\n%config OllamaMagics.model = "llama3.2"'


def test_side_by_side_streams_into_columns_then_shows_the_comparison(notebook: Any, sim: Simulator) -> None:
    nb = notebook([setup_cell(sim), "%%ollama -m llama3.2,qwen3\nCompare <b>us</b> [[tokens=60]] [[delay=0.02]]"])
    nb.run_cell(0)
    nb.run_cell(1, timeout=60)
    outputs = nb.outputs(1)
    columns = outputs.locator("div[style*='display:flex'] > div")
    assert columns.count() == 2
    assert columns.nth(0).inner_text().startswith("llama3.2")
    assert columns.nth(1).inner_text().startswith("qwen3")
    assert "*(simulated reply)*" in columns.nth(0).inner_text()
    assert outputs.locator("b").count() == 0  # the model's <b> is text, not markup
    table = outputs.locator("table")
    assert table.count() == 1
    text = table.inner_text()
    assert "first token (s)" in text and "llama3.2" in text and "qwen3" in text
    assert nb.page.locator(".jp-Notebook button.widget-button").count() == 0  # Stop all is gone


def test_pull_shows_a_progress_bar_that_ends_with_success(notebook: Any, sim: Simulator) -> None:
    nb = notebook([setup_cell(sim), "%ollama pull tinyllama"])
    nb.run_cell(0)
    nb.run_cell(1, wait=False)
    # while the pull runs: a progress widget and its label (bytes, percent)
    live = nb.outputs(1).locator(".jupyter-widgets", has_text="%")
    live.first.wait_for(state="visible", timeout=20_000)
    label = live.first.inner_text()
    assert "pulling" in label and "B /" in label, label
    assert nb.outputs(1).locator(".progress-bar, [class*='progress']").count() >= 1
    nb.wait_for_cell_done(1, timeout=60)
    assert "tinyllama: success" in nb.wait_for_output_text(1, "success", timeout=20)
    assert nb.outputs(1).locator(".jupyter-widgets").count() == 0  # the widgets are closed
