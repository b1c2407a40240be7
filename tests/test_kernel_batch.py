"""``%%ollama --over`` in a real kernel (ipykernel 6 and 7): the kernel interrupt stops a batch —
every open stream closed (the server sees each close), finished answers kept in ``-o``, the rest
``None`` — and the cell ends as interrupted with one short error; a finished batch's output is
one saved display (summary and per-host figures) with no widget left behind."""

from __future__ import annotations

import pytest

from conftest import magics_setup
from kernel_client import WIDGET_VIEW, KernelSession, Message
from test_kernel_interrupts import kernel  # noqa: F401  (one kernel per line: ipykernel 6 and 7)
from ollama_nb.simulator import Simulator
from test_batch import wait_for_generate_requests

CONCURRENCY = 3


def is_progress_display(msg: Message) -> bool:
    data = msg["content"].get("data", {})
    return msg["msg_type"] in ("display_data", "update_display_data") and " ok · " in data.get("text/plain", "")


def setup(kernel: KernelSession, simulator: Simulator) -> None:
    kernel.check(magics_setup(simulator))


@pytest.mark.timeout(120)
def test_interrupt_closes_every_stream_keeps_the_finished_and_ends_interrupted(kernel: KernelSession, simulator: Simulator) -> None:
    setup(kernel, simulator)
    kernel.check("items = [f'quick {i} [[tokens=2]]' for i in range(3)] + [f'slow {i} [[tokens=5000]] [[delay=0.01]]' for i in range(6)]")
    cell = kernel.execute(f"%%ollama --over items -o answers --concurrency {CONCURRENCY}\n{{item}}")
    wait_for_generate_requests(simulator, 3 + CONCURRENCY)  # three quick ones, then three slow ones streaming
    kernel.wait_iopub(cell, is_progress_display, timeout=20)
    kernel.interrupt()
    for _ in range(CONCURRENCY):
        simulator.wait_for("disconnect", timeout=10)  # each open stream is closed
    run = kernel.finish(cell, timeout=30)
    assert run.reply["status"] == "error" and run.reply["ename"] == "Interrupted", run.reply
    assert "3 finished answers are kept, 6 items did not run" in run.reply["evalue"]
    assert len(run.errors[0]["traceback"]) <= 3  # a short error, not a wall of traceback
    assert [e.kind for e in simulator.events].count("disconnect") == CONCURRENCY
    assert len([r for r in simulator.requests if r.path == "/api/generate"]) == 3 + CONCURRENCY  # nothing sent after
    check = kernel.check("print([a is not None for a in answers])")
    assert check.stdout.strip() == str([True] * 3 + [False] * 6)
    summary = [o for o in run.outputs if o["output_type"] == "display_data" and "interrupted" in o["data"].get("text/markdown", "")]
    assert len(summary) == 1


@pytest.mark.timeout(120)
def test_a_finished_batch_leaves_one_summary_and_no_widget(kernel: KernelSession, simulator: Simulator) -> None:
    setup(kernel, simulator)
    kernel.check("xs = list(range(40))")
    run = kernel.check("%%ollama --over xs -o out\nnumber {item} [[tokens=20]]")
    displays = [o for o in run.outputs if o["output_type"] == "display_data"]
    markdown = [o["data"]["text/markdown"] for o in displays if o["data"].get("text/markdown")]
    assert any("40/40 · 40 ok · 0 failed" in m and simulator.url in m for m in markdown), markdown
    assert not any(WIDGET_VIEW in o["data"] and len(o["data"]) == 1 for o in displays)  # no dead widget
    assert kernel.check("print(sum(a is not None for a in out))").stdout.strip() == "40"


@pytest.mark.timeout(120)
def test_the_table_of_latest_answers_shows_model_html_as_text(kernel: KernelSession, simulator: Simulator) -> None:
    setup(kernel, simulator)
    kernel.check("xs = ['[[html]] [[tokens=30]] [[delay=0.01]]'] * 16")
    run = kernel.check("%%ollama --over xs --concurrency 2\n{item}", timeout=60)
    markdown = [m["content"]["data"]["text/markdown"] for m in run.messages
                if m["msg_type"] in ("display_data", "update_display_data") and m["content"].get("data", {}).get("text/markdown")]
    tables = [text for text in markdown if "| item | status | answer |" in text]
    assert tables, "no progress redraw showed the latest answers"
    assert any("&lt;img" in text for text in tables)  # the model's HTML is there, as text
    assert not any("<img" in text or "<script" in text for text in markdown)
