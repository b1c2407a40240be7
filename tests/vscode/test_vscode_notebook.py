"""ollama_nb in VS Code's notebook editor: streaming, the Stop button, the kernel interrupt, chat, ``--over``, history.

One notebook per kernel line (ipykernel 7 and 6), run with the toolbar's "Run All"; the test acts on each cell as it
runs (click Stop, click Interrupt) and then checks what the page showed and what VS Code saved (auto-save is on).
The Ollama side is a :class:`~ollama_nb.simulator.Simulator` in this pytest process: it stamps the moment it sees a
connection close with the ``time.monotonic()`` clock the test reads just before clicking.

Measured latencies are written to out/vscode-latencies.json and printed at the end of the module.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from browser.jupyter import REPO, JupyterServer
from browser.test_stop_button import CURSOR, flat, next_event
from ollama_nb.simulator import Event, Simulator

from .code_server import CodeServer, ConsoleLog, VSCodeNotebook, click_now, open_notebook

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

LATENCIES = REPO / "out" / "vscode-latencies.json"
LATENCY_LIMIT_S = 1.0
KERNEL_LABELS = {"onb-k7": "ollama_nb (ipykernel 7)", "onb-k6": "ollama_nb (ipykernel 6)"}
STREAM = "[[tokens=2000]] [[delay=0.05]]"  # 100 s if nothing stops it
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

SETUP, ANSWER, STOP, AFTER_STOP, CHAT, OVER, AFTER_OVER, HISTORY, INTERRUPT, AFTER_INTERRUPT = range(10)
OVER_CONCURRENCY = 3


def notebook_cells(sim_url: str) -> list[str]:
    cells = {
        SETUP: "%load_ext ollama_nb\n"
        f'%config OllamaMagics.host = "{sim_url}"\n'
        '%config OllamaMagics.model = "llama3.2"\n'
        "items = [f'quick {i} [[tokens=2]]' for i in range(3)]"
        " + [f'slow {i} [[tokens=4000]] [[delay=0.02]]' for i in range(6)]",
        ANSWER: "%%ollama\nWrite a short note [[tokens=60]] [[delay=0.02]]",
        STOP: f"%%ollama\nTell me a story {STREAM}",
        AFTER_STOP: 'print("after stop")',
        CHAT: "%ollama_chat Say hello in chat [[tokens=8]]",
        OVER: f"%%ollama --over items -o answers --concurrency {OVER_CONCURRENCY}\n{{item}}",
        AFTER_OVER: "print('kept', sum(a is not None for a in answers), 'of', len(answers))",
        HISTORY: "%ollama history",
        INTERRUPT: f"%%ollama\nTell me another story {STREAM}",
        AFTER_INTERRUPT: 'print("after interrupt")',
    }
    return [cells[index] for index in range(len(cells))]


_recorded: list[dict[str, Any]] = []


def record_latency(kind: str, kernel: str, latency: float, event: Event) -> None:
    _recorded.append({"kind": kind, "ui": "vscode", "kernel": kernel, "latency_ms": round(latency * 1000, 1),
                      "lines_sent": event.lines_sent})
    LATENCIES.parent.mkdir(parents=True, exist_ok=True)
    LATENCIES.write_text(json.dumps(_recorded, indent=1) + "\n")


@pytest.fixture(scope="module", autouse=True)
def _print_latencies(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if not _recorded or reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        reporter.write_line(f"VS Code latencies (click -> the server sees the close), in {LATENCIES}:")
        for row in _recorded:
            reporter.write_line(f"  {row['kind']:<10} vscode {row['kernel']:<7} {row['latency_ms']:7.1f} ms"
                                f"  ({row['lines_sent']} lines sent)")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(port=0) as running:
        yield running


def streamed_so_far(nb: VSCodeNotebook, prompt: str, min_words: int = 12, timeout: float = 60.0) -> str:
    """Wait until the answer to ``prompt`` shows ``min_words`` words after the echo; return its text so far."""
    marker = f'You asked: "{prompt}".'
    deadline = time.monotonic() + timeout
    while True:
        nb.dismiss_renderer_dialog()
        text = flat(nb.outputs_text())
        if marker in text:
            after = text[text.index(marker):]
            after = after.split("llama3.2 ·")[0]
            if len(after.split()) >= min_words:
                return after
        if time.monotonic() > deadline:
            raise TimeoutError(f"the answer to {prompt!r} did not stream: {text[-1500:]!r}")
        nb.page.wait_for_timeout(50)


def saved_cells(jupyter: JupyterServer, name: str, done: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The notebook's cells as VS Code auto-saved them, once ``done(cells)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cells: list[dict[str, Any]] = jupyter.read_notebook(name)["cells"]
        except (OSError, json.JSONDecodeError):  # mid-write
            cells = []
        if cells and done(cells):
            return cells
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} was not saved as expected in {timeout:g} s: {json.dumps(cells)[-3000:]}")
        time.sleep(0.2)


def text_of(cell: dict[str, Any]) -> str:
    """All text in a saved cell's outputs (stream text, each output's text/plain, errors' one line)."""
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append("".join(output["text"]))
        if "evalue" in output:
            parts.append(f"{output['ename']}: {output['evalue']}")
        plain = output.get("data", {}).get("text/plain")
        if plain is not None:
            parts.append("".join(plain))
    return "\n".join(parts)


def assert_answer_and_footer(cell: dict[str, Any]) -> tuple[str, str]:
    """The cell's saved outputs are the one Markdown answer and the footer; returns their text/plain."""
    outputs = cell["outputs"]
    assert [sorted(o.get("data", {})) for o in outputs] == [["text/markdown", "text/plain"]] * 2, outputs
    answer, footer = ("".join(o["data"]["text/plain"]) for o in outputs)
    assert answer.startswith("*(simulated reply)*"), answer[:200]
    assert "llama3.2" in footer and CURSOR not in answer, footer
    return answer, footer


@pytest.mark.timeout(360)
@pytest.mark.parametrize("kernel", ["onb-k7", "onb-k6"])
def test_stream_stop_interrupt_chat_over_and_history(
    context: BrowserContext, console: ConsoleLog, vscode: CodeServer, jupyter: JupyterServer, sim: Simulator,
    kernel: str,
) -> None:
    name = f"ollama-vscode-{kernel}.ipynb"
    jupyter.write_notebook(name, notebook_cells(sim.url), kernel=kernel)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    nb = open_notebook(page, vscode, name, jupyter, KERNEL_LABELS[kernel])
    nb.run_all()

    # a cell that runs to the end streams, then shows the answer and the footer
    streamed_so_far(nb, "Write a short note", min_words=4)

    # Stop while it streams: the server sees the close, the partial text stays, the queued cell runs
    shown = streamed_so_far(nb, "Tell me a story")
    clicked = click_now(page, nb.wait_for_widget_button("Stop"))
    stop_close = next_event(sim, "disconnect", after=clicked)
    record_latency("stop", kernel, stop_close.time - clicked, stop_close)
    assert stop_close.time - clicked < LATENCY_LIMIT_S
    nb.wait_for_output_text("after stop")

    # --over: the progress row and its Stop button; the click closes every open stream
    while sum(r.path in ("/api/generate", "/api/chat") and "slow" in json.dumps(r.body) for r in sim.requests) < 3:
        sim.wait_for("request", timeout=60)
    nb.wait_for_output_text("3 ok")
    clicked = click_now(page, nb.wait_for_widget_button("Stop"))
    closes = [next_event(sim, "disconnect", after=clicked, timeout=10) for _ in range(OVER_CONCURRENCY)]
    over_latency = sorted(event.time - clicked for event in closes)[OVER_CONCURRENCY // 2]
    record_latency("over-stop", kernel, over_latency, closes[0])
    assert over_latency < LATENCY_LIMIT_S
    nb.wait_for_output_text("kept 3 of 9")

    # the kernel interrupt (VS Code's toolbar "Interrupt") closes the stream too
    streamed_so_far(nb, "Tell me another story")
    interrupted = nb.interrupt()
    interrupt_close = next_event(sim, "disconnect", after=interrupted, timeout=10)
    record_latency("interrupt", kernel, interrupt_close.time - interrupted, interrupt_close)
    assert interrupt_close.time - interrupted < LATENCY_LIMIT_S

    # as in JupyterLab, the interrupt ends the cell with a one-line "Interrupted" and the kernel aborts the queue
    cells = saved_cells(jupyter, name, lambda saved: any(o.get("ename") == "Interrupted"
                                                         for o in saved[INTERRUPT]["outputs"]))
    *shown_outputs, interrupted_error = cells[INTERRUPT]["outputs"]
    assert "stopped" in assert_answer_and_footer({"outputs": shown_outputs})[1]
    assert "partial reply" in interrupted_error["evalue"] and len(interrupted_error["traceback"]) == 1
    assert cells[AFTER_INTERRUPT]["execution_count"] is None and cells[AFTER_INTERRUPT]["outputs"] == []
    assert_answer_and_footer(cells[ANSWER])
    answer, footer = assert_answer_and_footer(cells[STOP])
    assert "stopped" in footer
    assert flat(shown) in flat(answer.replace("*(simulated reply)*", "")), "the partial answer is gone"
    assert text_of(cells[AFTER_STOP]).strip() == "after stop"
    assert "(simulated reply)" in text_of(cells[CHAT])
    over = text_of(cells[OVER])
    assert "9/9 · 3 ok · 0 failed · 6 not run" in over and "stopped" in over, over
    assert "Traceback" not in over and "Interrupted" not in over
    assert text_of(cells[AFTER_OVER]).strip() == "kept 3 of 9"
    history = text_of(cells[HISTORY])
    assert "Say hello in chat" in history, history
    widgets = [i for i, cell in enumerate(cells) for o in cell.get("outputs", []) if WIDGET_MIME in o.get("data", {})]
    assert widgets == [], f"widget outputs left in cells {widgets}: {[cells[i]['outputs'] for i in widgets]}"
    assert nb.widget_count() == 0, "a widget is left in the outputs"
    assert dialogs == []
    # every Stop button rendered, the first one too (it is up for about a second, before the first Markdown output)
    assert console.widget_failures() == []
