"""An experiment in a real JupyterLab (ipykernel 7): the summary table after ``%%ollama --over
… --prompts`` and the blind label widget, with prompt names and answers that carry HTML shown as
text; each click of the widget is one label at once, and the widget is gone at the end (that labels
reach the record and survive a restart is tests/test_experiment_kernel.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ollama_nb.simulator import Simulator

PAYLOAD = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def test_summary_and_label_widget_show_html_as_text(notebook: Any, sim: Simulator) -> None:
    cells = [
        f'%load_ext ollama_nb\n%config OllamaMagics.host = "{sim.url}"\n%config OllamaMagics.model = "llama3.2"',
        (f"items = ['one', 'two']\nprompts = {{{PAYLOAD!r}: '{{item}} [[html]]', 'plain': 'Plain {{item}} [[html]]'}}\n"
         "score = lambda answer, item: len(answer)"),
        "%%ollama --over items --prompts prompts --score score -o exp\n",
        "exp.label(seed=0)",
        "print([tie for _, _, _, tie in exp.labels.all()])",
    ]
    nb = notebook(cells, kernel="onb-k7")
    for index in range(3):
        nb.run_cell(index)
    text = nb.wait_for_output_text(2, "done", timeout=60)
    assert PAYLOAD in text and "plain" in text  # the prompt's name, as text
    table = nb.outputs(2)
    assert table.locator("table").count() == 1 and table.locator("img").count() == 0
    nb.run_cell(3)
    nb.wait_for_output_text(3, "Item", timeout=30)
    widget = nb.outputs(3)
    assert widget.inner_text().count("<script>") == 2 and widget.locator("img, script").count() == 0  # markup as text
    assert set(widget.locator("b").all_inner_texts()) <= {"Item 0", "Item 1", "A", "B"}  # only the widget's own
    nb.click_button("A is better", 3)
    nb.wait_for_output_text(3, "1 of 2 seen", timeout=30)
    nb.click_button("tie", 3)
    done = nb.wait_for_output_text(3, "Labelling done", timeout=30)
    assert "A 1 · B 0 · tie 1 · skip 0" in done
    assert nb.page.locator(".jp-Notebook button.widget-button").count() == 0
    nb.run_cell(4)
    assert nb.wait_for_output_text(4, "]", timeout=30).strip() == "[False, True]"  # one label per click
    assert nb.page.title() != "pwned"


def test_the_stop_button_stops_an_experiment_and_keeps_the_finished_cells(notebook: Any, sim: Simulator) -> None:
    cells = [
        f'%load_ext ollama_nb\n%config OllamaMagics.host = "{sim.url}"\n%config OllamaMagics.model = "llama3.2"',
        "items = [f'slow {i} [[tokens=4000]] [[delay=0.02]]' for i in range(4)]\nprompts = ['A {item}', 'B {item}']",
        "%%ollama --over items --prompts prompts -m llama3.2,qwen3 --concurrency 2 -o exp\n",
        "print(exp.progress().ok, exp.progress().not_run)",
    ]
    nb = notebook(cells, kernel="onb-k7")
    nb.run_cell(0)
    nb.run_cell(1)
    nb.run_cell(2, wait=False)
    while sum(r.path == "/api/generate" for r in sim.requests) < 2:
        sim.wait_for("request", timeout=60)  # two streams open
    nb.click_button("Stop", 2)
    sim.wait_for("disconnect", timeout=10)
    nb.wait_for_cell_done(2, timeout=30)
    text = nb.wait_for_output_text(2, "stopped", timeout=15)
    assert "16/16 cells · 0 ok · 0 failed · 16 not run" in text, text
    assert "Traceback" not in text
    assert nb.page.locator(".jp-Notebook button.widget-button").count() == 0
    nb.run_cell(3)
    assert nb.wait_for_output_text(3, "16", timeout=30).strip() == "0 16"
    assert sum(r.path == "/api/generate" for r in sim.requests) == 2  # nothing sent after the click
