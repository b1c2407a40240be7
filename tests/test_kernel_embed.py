"""``%ollama embed`` in a real kernel: the cell is awaited (ipykernel 7), the interrupt stops the job —
the open request is closed, the vectors already received stay in the record and the cell ends with one
short error — and running it again sends only the rest. On the ipykernel 6 environment, which has no
numpy, the cell ends with the one-line error naming the extra, before any request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel_client import KernelSession
from ollama_nb.simulator import Simulator


def _setup(kernel: KernelSession, simulator: Simulator) -> None:
    kernel.check("%load_ext ollama_nb\n" f'%config OllamaMagics.host = "{simulator.url}"')


@pytest.fixture
def k7(record_db: Path) -> Iterator[KernelSession]:
    session = KernelSession("onb-k7")  # inherits OLLAMA_NB_DB=record_db
    try:
        yield session
    finally:
        session.close()


@pytest.mark.timeout(120)
def test_interrupt_stops_the_job_keeps_what_finished_and_a_rerun_sends_the_rest(
        k7: KernelSession, simulator: Simulator, tmp_path: Path) -> None:
    _setup(k7, simulator)
    k7.check("texts = ['one', 'two', 'slow [[delay=60]]', 'four']")
    cell = k7.execute("%ollama embed texts -m all-minilm --batch-size 2 --concurrency 1 -o vectors")
    def slow_sent() -> bool:
        return any(r.path == "/api/embed" and "slow [[delay=60]]" in (r.body or {}).get("input", [])
                   for r in simulator.requests)

    while not slow_sent():  # the record's look-ups and the first chunk come first, in any number
        simulator.wait_for("request", timeout=20)
    k7.interrupt()
    simulator.wait_for("disconnect", timeout=10)  # the slow request was closed
    run = k7.finish(cell, timeout=30)
    assert run.reply["status"] == "error" and run.reply["ename"] == "Interrupted", run.reply
    assert "2 new vectors are kept in the record, 2 texts were not sent" in run.reply["evalue"]
    assert len(run.errors[0]["traceback"]) <= 3
    k7.check("texts[2] = 'three'")
    k7.check("%ollama embed texts -m all-minilm --batch-size 2 -o vectors")
    bodies = [r.body for r in simulator.requests if r.path == "/api/embed"]
    assert bodies[-1]["input"] == ["three", "four"]
    assert k7.check("print(vectors.shape)").stdout.strip() == "(4, 384)"


@pytest.mark.timeout(120)
def test_without_numpy_the_cell_says_which_extra_to_install(simulator: Simulator, tmp_path: Path) -> None:
    with KernelSession("onb-k6") as k6:
        if k6.run("import numpy").reply["status"] == "ok":
            pytest.fail("the onb-k6 environment has numpy now: test the missing extra another way")
        _setup(k6, simulator)
        k6.check("texts = ['one']")
        run = k6.run("%ollama embed texts -m all-minilm -o vectors")
    assert run.reply["ename"] == "MissingExtraError"
    assert run.reply["evalue"] == "%ollama embed needs numpy: pip install 'ollama_nb[data]'"
    assert not [r for r in simulator.requests if r.path == "/api/embed"]
