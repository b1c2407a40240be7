"""One output per answer in a real JupyterLab: a long code block streams in frozen pieces, and when the reply
ends (done, or stopped with the button) the cell shows it as ONE code block, then the footer;
the saved notebook holds the same two outputs."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from ollama_nb.simulator import Simulator

PREFIX = "*(simulated reply)*"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def setup_cell(sim: Simulator) -> str:
    return f'%load_ext ollama_nb\n%config OllamaMagics.host = "{sim.url}"\n%config OllamaMagics.model = "llama3.2"'


def wait_for_pieces(nb: Any, index: int, count: int, timeout: float = 30.0) -> int:
    """Until the running cell shows at least ``count`` code blocks (frozen pieces)."""
    deadline = time.monotonic() + timeout
    while True:
        found = nb.outputs(index).locator("pre").count()
        if found >= count:
            return found
        assert nb.is_running(index), f"the cell ended before showing {count} code pieces (saw {found})"
        assert time.monotonic() < deadline, f"only {found} code pieces after {timeout:g} s"
        nb.page.wait_for_timeout(50)


def assert_one_code_block(nb: Any, jupyter: Any, index: int) -> None:
    outputs = nb.outputs(index)
    assert outputs.locator("pre").count() == 1, f"{outputs.locator('pre').count()} code blocks after the end"
    assert outputs.count() == 2, [outputs.nth(i).inner_text()[:80] for i in range(outputs.count())]
    assert outputs.nth(0).inner_text().startswith("(simulated reply)")
    assert "llama3.2" in outputs.nth(1).text_content()
    assert nb.page.locator(".jp-Notebook button.widget-button").count() == 0
    nb.save()
    saved = jupyter.read_notebook(nb.name)["cells"][index]["outputs"]
    assert [sorted(o["data"]) for o in saved] == [["text/markdown", "text/plain"]] * 2, saved
    answer = "".join(saved[0]["data"]["text/plain"])
    assert answer.startswith(PREFIX + "\n\n```python\n")
    markdown = "".join(saved[0]["data"]["text/markdown"])
    assert markdown.count("```") <= 2  # one fence, not one per piece


@pytest.mark.parametrize("kernel", ["onb-k6", "onb-k7"])
def test_a_long_code_block_ends_as_one_code_block(notebook: Any, jupyter: Any, sim: Simulator, kernel: str) -> None:
    nb = notebook([setup_cell(sim), "%%ollama\nA long program [[shape=code]] [[tokens=5000]] [[delay=0.001]]"], kernel=kernel)
    nb.run_cell(0)
    nb.run_cell(1, wait=False)
    wait_for_pieces(nb, 1, 3)
    nb.wait_for_cell_done(1, timeout=90)
    nb.wait_for_kernel_idle()
    assert_one_code_block(nb, jupyter, 1)


def test_a_code_block_stopped_with_the_button_ends_as_one_code_block(notebook: Any, jupyter: Any, sim: Simulator) -> None:
    nb = notebook([setup_cell(sim), "%%ollama\nA long program [[shape=code]] [[tokens=100000]] [[delay=0.002]]"])
    nb.run_cell(0)
    nb.run_cell(1, wait=False)
    wait_for_pieces(nb, 1, 3)
    nb.click_button("Stop", cell=1)
    nb.wait_for_cell_done(1, timeout=30)
    nb.wait_for_kernel_idle()
    assert_one_code_block(nb, jupyter, 1)
    assert "stopped" in nb.outputs(1).nth(1).text_content()
