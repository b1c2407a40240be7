"""The record in real Jupyter kernels (ipykernel 6 and 7): a conversation survives a kernel
restart (``%ollama resume``), a repeated ``--cache`` cell is answered with no request, and an
interrupted stream is recorded as interrupted. The kernel writes to this test's own file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest

from ollama_nb.simulator import Simulator

from kernel_client import Execution, KernelSession

pytest.importorskip("ipykernel")

PREFIX = "*(simulated reply)*"


@pytest.fixture(params=["onb-k6", "onb-k7"])
def kernel(request: pytest.FixtureRequest, record_db: Path, simulator: Simulator, monkeypatch: Any) -> Iterator[KernelSession]:
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/trip.ipynb")  # as Jupyter Server sets it
    session = KernelSession(str(request.param))  # inherits OLLAMA_NB_DB=record_db
    try:
        setup(session, simulator)
        yield session
    finally:
        session.close()


def setup(kernel: KernelSession, simulator: Simulator) -> None:
    kernel.check(
        "%load_ext ollama_nb\n"
        f'%config OllamaMagics.host = "{simulator.url}"\n'
        '%config OllamaMagics.model = "llama3.2"'
    )


def rows(path: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM turns ORDER BY id").fetchall()
    finally:
        db.close()


def generations(simulator: Simulator) -> list[Any]:
    return [r for r in simulator.requests if r.path in ("/api/chat", "/api/generate")]


def markdown_outputs(run: Execution) -> list[str]:
    return [o["data"]["text/markdown"] for o in run.outputs if o["output_type"] == "display_data" and "text/markdown" in o["data"]]


@pytest.mark.timeout(120)
def test_a_conversation_survives_a_kernel_restart(kernel: KernelSession, simulator: Simulator, record_db: Path) -> None:
    kernel.check("%ollama_chat --session trip -s 'Be brief.' Where to? [[tokens=3]]")
    kernel.check("%ollama_chat --session trip When? [[tokens=3]]")
    history = generations(simulator)[-1].body["messages"]  # system, user, assistant, user
    first_answers = [r["text"] for r in rows(record_db)]
    assert rows(record_db)[0]["notebook"] == "/home/me/trip.ipynb"

    kernel.restart()
    setup(kernel, simulator)
    kernel.check("%ollama resume trip")
    kernel.check("%ollama_chat --session trip How? [[tokens=2]]")
    sent = generations(simulator)[-1].body["messages"]
    assert sent == [
        *history,
        {"role": "assistant", "content": first_answers[1]},
        {"role": "user", "content": "How? [[tokens=2]]"},
    ]
    assert [r["session"] for r in rows(record_db)] == ["trip"] * 3
    assert len({r["conversation"] for r in rows(record_db)}) == 1


@pytest.mark.timeout(120)
def test_a_repeated_cache_cell_is_answered_from_the_record_with_no_request(kernel: KernelSession, simulator: Simulator) -> None:
    first = kernel.check("%%ollama --cache --seed 4\nA haiku [[markdown]]")
    requests = len(simulator.requests)
    kernel.restart()  # even in a new kernel process (only /api/tags for the digest, /api/version for the server)
    setup(kernel, simulator)
    again = kernel.check("%%ollama --cache --seed 4\nA haiku [[markdown]]")
    assert [r.path for r in simulator.requests[requests:]] == ["/api/tags", "/api/version"]
    third = kernel.check("%%ollama --cache --seed 4\nA haiku [[markdown]]")
    assert len(simulator.requests) == requests + 2  # the digest and version are known now: no request at all
    answer = [m for m in markdown_outputs(first) if m.startswith(PREFIX)]
    assert answer and [m for m in markdown_outputs(again) if m.startswith(PREFIX)] == answer
    for run in (again, third):
        (footer,) = [m for m in markdown_outputs(run) if m.startswith("*llama3.2")]
        assert "**reused** from" in footer and "UTC" in footer


@pytest.mark.timeout(120)
def test_an_interrupted_stream_is_recorded_as_interrupted(kernel: KernelSession, simulator: Simulator, record_db: Path) -> None:
    cell = kernel.execute("%%ollama\nlong [[tokens=3000]] [[delay=0.01]]")
    kernel.wait_iopub(cell, lambda m: m["msg_type"] == "display_data" and "text/markdown" in m["content"]["data"], timeout=20)
    kernel.interrupt()
    simulator.wait_for("disconnect", timeout=10)
    run = kernel.finish(cell, timeout=20)
    assert run.reply["status"] == "error" and run.reply["ename"] == "Interrupted"
    (row,) = rows(record_db)
    assert row["status"] == "interrupted" and row["text"].startswith(PREFIX)
