"""HTML/JS in a model's answer, a tool's result and a server's fields runs nothing in VS Code's output webview.

Every magic and subcommand (tests/untrusted.py), on ipykernel 7 and 6, is fed by a hostile simulator; a payload that
ran would set ``window.__pwned`` in the webview. A control cell at the end shows trusted HTML whose handler does run
there (VS Code runs scripts in a text/html output), so the test can fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser.jupyter import JupyterServer
from ollama_nb.simulator import Simulator
from ollama_nb.simulator._hostile import HOSTILE_MODEL
from untrusted import FAILING, TOOL_CALL, hostile_cells

from .code_server import CodeServer, open_notebook
from .test_vscode_notebook import KERNEL_LABELS, saved_cells, text_of

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CONTROL = ("from IPython.display import HTML\n"
           "HTML('<img src=x onerror=\"window.__control=1\"><script>window.__control_script=1</script>')")


@pytest.fixture
def hostile() -> Iterator[Simulator]:
    with Simulator(hostile=True, pull_seconds=1.0) as sim:
        yield sim


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kernel", ["onb-k7", "onb-k6"])
def test_hostile_answer_tool_result_and_server_text_run_nothing_in_the_webview(
    context: BrowserContext, vscode: CodeServer, jupyter: JupyterServer, hostile: Simulator, tmp_path: Path,
    kernel: str,
) -> None:
    save_path = tmp_path / "<img src=x onerror=window.__pwned=1>.json"
    setup = (f'%load_ext ollama_nb\n%config OllamaMagics.host = "{hostile.url}"\n'
             '%config OllamaMagics.model = "llama3.2"')
    # Run All stops at the first cell that fails: the control cell goes before the one failing cell kept
    cells_in = [cell for cell in hostile_cells(str(save_path).replace(" ", "\\ ")) if cell not in FAILING]
    sources = [setup, *cells_in, CONTROL, FAILING[0]]
    name = f"hostile-vscode-{kernel}.ipynb"
    jupyter.write_notebook(name, sources, kernel=kernel)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    nb = open_notebook(page, vscode, name, jupyter, KERNEL_LABELS[kernel])
    nb.run_all()
    failing = len(sources) - 1
    cells = saved_cells(jupyter, name, lambda saved: bool(saved[failing].get("outputs")), timeout=180)
    # a handler in an output does run in this webview: the control cell's (VS Code renders the cells in view only)
    nb.scroll_through()
    flags = nb.webview_flags(("__control", "__control_script", "__pwned"))
    assert flags.get("__control") == 1 or flags.get("__control_script") == 1, f"the control cell ran nothing: {flags}"
    assert "__pwned" not in flags, "a payload from the model, a tool or the server ran in the webview"
    assert dialogs == []

    def shown(source: str) -> str:
        return text_of(cells[sources.index(source)])

    history = shown("%ollama history")
    assert TOOL_CALL in history and "second | line" in history, history
    assert HOSTILE_MODEL in shown("%ollama models")
    assert "answered 500" in shown(FAILING[0])
    assert save_path.exists()
    # what was hostile is shown as text: the webview holds the payload's words, not its elements
    text = nb.outputs_text()
    assert "onerror" in text
    frame = nb.output_frame()
    assert frame is not None
    assert frame.locator("#container img").count() == 1, "an <img> from untrusted text"  # only the control's
