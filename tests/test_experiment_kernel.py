"""Labels of an experiment survive a kernel restart (a real ipykernel 7 kernel writing to this
test's record): the same experiment made again finds its labels and its answers, sending nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel_client import KernelSession

from ollama_nb.simulator import Simulator

pytest.importorskip("ipykernel")

MAKE = (
    "from ollama_nb import Session\n"
    "exp = Session('llama3.2', host={url!r}).experiment({{'a': 'A {{item}}', 'b': 'B {{item}}'}}, ['x', 'y'],\n"
    "                                               models=['llama3.2', 'qwen3'])\n"
    "assert exp.wait(30) and exp.failure is None, exp.failure\n"
)


@pytest.fixture
def kernel(record_db: Path) -> Iterator[KernelSession]:
    session = KernelSession("onb-k7")  # inherits OLLAMA_NB_DB=record_db
    try:
        yield session
    finally:
        session.close()


def generations(simulator: Simulator) -> list[Any]:
    return [r for r in simulator.requests if r.path == "/api/generate"]


@pytest.mark.timeout(180)
def test_labels_and_answers_survive_a_kernel_restart(kernel: KernelSession, simulator: Simulator,
                                                     record_db: Path) -> None:
    kernel.check(MAKE.format(url=simulator.url))
    kernel.check("exp.add_label('x', 'a · qwen3', 'b · qwen3')\n"
                 "exp.add_label('y', 'b · llama3.2', 'a · llama3.2', tie=True)")
    sent = len(generations(simulator))
    assert sent == 8
    kernel.restart()
    kernel.check(MAKE.format(url=simulator.url))
    run = kernel.check("print(len(exp.labels.all()), exp.progress().reused)\n"
                       "print(exp.leaderboard().loc['a · qwen3', 'judgements'])")
    assert run.stdout.split() == ["2", "8", "1"]
    assert len(generations(simulator)) == sent  # every answer came from the record
    db = sqlite3.connect(record_db)
    try:
        assert db.execute("SELECT count(*) FROM labels").fetchone()[0] == 2
    finally:
        db.close()
