"""A long answer ends as one Markdown output, and display traffic stays linear, for every shape.

Real kernels (ipykernel 6 and 7, one kernel per kernelspec for the module) against the simulator,
which writes long replies in the shapes a model writes at length (``[[shape=NAME]]``): one long
paragraph, many short paragraphs, a long code block, a flat and a nested list, a table and a
blockquote. For each shape:

- iopub traffic (``len(json.dumps(content))`` summed over the cell's messages) is at most 5x the
  reply's size in UTF-8 bytes;
- the outputs a front end ends with (clear_output and display updates applied) hold exactly one
  ``text/markdown`` answer whose ``text/plain`` is the model's text byte for byte, then the footer,
  and no empty output; for a finished reply and for one stopped with the Stop button;
- a notebook run headless by nbclient saves the same single answer output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from ollama_nb.simulator import Simulator

from kernel_client import WIDGET_VIEW, Execution, KernelSession, Message, quiet_kernel_manager
from test_kernel import kernel, kernel_name, running_kernel  # noqa: F401  (the same fixtures: one kernel per kernelspec)

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

SHAPES = ["paragraph", "paragraphs", "code", "list", "nested-list", "table", "quote"]
#: Long enough that every shape freezes many blocks (about 400 list items, 150 table rows).
TOKENS = 4000
#: Paced, so that the view refreshes the open tail many times while the reply streams.
DELAY = 0.0003
PREFIX = "*(simulated reply)*"

MEASURED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def report_measurements() -> Iterator[None]:
    yield
    if MEASURED:
        print("\n" + "\n".join(MEASURED))


# -- helpers -----------------------------------------------------------------------------------
def last_text(kernel: KernelSession) -> str:
    """The last turn's text, exactly (sent back as JSON)."""
    run = kernel.check("import json as _json, ollama_nb\nprint(_json.dumps(ollama_nb.get_session().last.text))")
    return json.loads(run.stdout)


def is_footer(output: dict[str, Any]) -> bool:
    return output["data"].get("text/markdown", "").startswith("*llama3.2")


def assert_one_answer(outputs: list[dict[str, Any]], text: str, *, stopped: bool) -> None:
    """Exactly: the answer (whole text, byte for byte), then the footer; nothing else."""
    displays = [o for o in outputs if o["output_type"] == "display_data"]
    for output in displays:
        assert output["data"], f"an empty output is left: {output}"
        assert any(value.strip() for value in output["data"].values()), f"an empty output is left: {output}"
        assert WIDGET_VIEW not in output["data"], f"a widget output is left: {output}"
    markdown = [o for o in displays if "text/markdown" in o["data"]]
    assert len(markdown) == 2, [o["data"].get("text/plain", "")[:80] for o in markdown]
    answer, footer = markdown
    assert is_footer(footer), footer
    assert answer["data"]["text/plain"] == text
    assert answer["data"]["text/markdown"].startswith(PREFIX)
    assert footer["metadata"]["ollama_nb"]["stopped"] is stopped
    assert answer["metadata"]["ollama_nb"]["stopped"] is stopped


def measure(kernel: KernelSession, run: Execution, text: str, label: str) -> float:
    size = len(text.encode())
    ratio = run.iopub_bytes / size
    displays = run.count("display_data", "update_display_data")
    MEASURED.append(
        f"[{kernel.kernel_name}] {label}: {run.iopub_bytes} iopub bytes for a {size}-byte reply "
        f"({ratio:.2f}x) in {displays} display messages"
    )
    return ratio


def click(kernel: KernelSession, button: Message) -> None:
    """What a front end sends when the Stop button is clicked."""
    content = {"comm_id": button["content"]["comm_id"], "data": {"method": "custom", "content": {"event": "click"}}}
    kernel.client.shell_channel.send(kernel.client.session.msg("comm_msg", content))


def is_button(msg: Message) -> bool:
    return msg["msg_type"] == "comm_open" and msg["content"]["data"].get("state", {}).get("_model_name") == "ButtonModel"


def is_answer_text(msg: Message) -> bool:
    return msg["msg_type"] in ("display_data", "update_display_data") and PREFIX in msg["content"]["data"].get(
        "text/markdown", ""
    )


def nth_display(count: int) -> Any:
    """A predicate for wait_iopub that is true at the ``count``-th new output (display_data)."""
    seen = 0

    def predicate(msg: Message) -> bool:
        nonlocal seen
        seen += msg["msg_type"] == "display_data"
        return seen >= count

    return predicate


# -- tests -------------------------------------------------------------------------------------
@pytest.mark.timeout(90)
@pytest.mark.parametrize("shape", SHAPES)
def test_a_long_reply_of_each_shape_ends_as_one_output_within_five_times_its_size(
    kernel: KernelSession, shape: str
) -> None:
    run = kernel.run(f"%%ollama\nwrite [[shape={shape}]] [[tokens={TOKENS}]] [[delay={DELAY}]]", timeout=60)
    assert run.reply["status"] == "ok", run.reply
    text = last_text(kernel)
    ratio = measure(kernel, run, text, f"{shape}, done")
    assert_one_answer(run.outputs, text, stopped=False)
    assert ratio <= 5, MEASURED[-1]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("shape", ["code", "list", "paragraphs"])
def test_a_reply_stopped_with_the_button_ends_as_one_output_holding_the_partial_text(
    kernel: KernelSession, shape: str
) -> None:
    cell = kernel.execute(f"%%ollama\nwrite [[shape={shape}]] [[tokens=100000]] [[delay=0.0005]]")
    button = kernel.wait_iopub(cell, is_button, timeout=20)
    kernel.wait_iopub(cell, is_answer_text, timeout=20)
    kernel.wait_iopub(cell, nth_display(6), timeout=30)  # a few frozen pieces: something to merge
    click(kernel, button)
    run = kernel.finish(cell, timeout=30)
    assert run.reply["status"] == "ok", run.reply
    text = last_text(kernel)
    assert 0 < len(text) < 100000
    measure(kernel, run, text, f"{shape}, stopped")
    assert_one_answer(run.outputs, text, stopped=True)


@pytest.mark.timeout(90)
def test_a_reply_with_an_error_mid_stream_ends_as_one_output(kernel: KernelSession) -> None:
    run = kernel.run(f"%%ollama\nwrite [[shape=code]] [[tokens={TOKENS}]] [[error-after=3000]]", timeout=60)
    assert run.reply["status"] == "error" and run.reply["ename"] == "StreamError", run.reply
    text = last_text(kernel)
    displays = [o for o in run.outputs if o["output_type"] == "display_data"]
    markdown = [o for o in displays if "text/markdown" in o["data"]]
    assert [o["data"]["text/plain"] for o in markdown[:1]] == [text]
    assert len(markdown) == 2 and is_footer(markdown[1]), markdown
    assert run.outputs[-1]["output_type"] == "error"


@pytest.mark.timeout(90)
def test_an_interrupted_reply_ends_as_one_output_then_the_short_error(kernel: KernelSession) -> None:
    cell = kernel.execute("%%ollama\nwrite [[shape=list]] [[tokens=100000]] [[delay=0.0005]]")
    kernel.wait_iopub(cell, is_answer_text, timeout=20)
    kernel.wait_iopub(cell, nth_display(6), timeout=30)
    kernel.interrupt()
    run = kernel.finish(cell, timeout=30)
    assert run.reply["status"] == "error" and run.reply["ename"] == "Interrupted", run.reply
    text = last_text(kernel)
    *shown, error = run.outputs
    assert error["output_type"] == "error"
    assert_one_answer(shown, text, stopped=True)


@pytest.mark.timeout(120)
def test_nbclient_saves_one_answer_output_per_shape(kernel_name: str, simulator: Simulator, tmp_path: Path) -> None:
    v4 = nbformat.v4
    cells = [
        v4.new_code_cell(
            f'%load_ext ollama_nb\n%config OllamaMagics.host = "{simulator.url}"\n%config OllamaMagics.model = "llama3.2"'
        )
    ]
    for shape in SHAPES:
        cells.append(v4.new_code_cell(f"%%ollama\nwrite [[shape={shape}]] [[tokens=1500]]"))
        cells.append(v4.new_code_cell("import json, ollama_nb\nprint(json.dumps(ollama_nb.get_session().last.text))"))
    nb = v4.new_notebook(cells=cells)
    client = nbclient.NotebookClient(
        nb, timeout=60, kernel_name=kernel_name, km=quiet_kernel_manager(kernel_name, str(tmp_path)),
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    path = tmp_path / "ran.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)
    for index, shape in enumerate(SHAPES):
        outputs = saved.cells[1 + 2 * index].outputs
        text = json.loads(saved.cells[2 + 2 * index].outputs[0]["text"])
        assert text.startswith(PREFIX), shape
        assert_one_answer(outputs, text, stopped=False)
