"""Several kernels write one record at once: two processes (a real file, no shared memory) chat
through their own sessions into a record neither has created yet; every turn lands, and neither
sees "database is locked" or any other warning."""

from __future__ import annotations

import multiprocessing
import sqlite3
import warnings
from pathlib import Path
from typing import Any

from ollama_nb._record._schema import MIGRATIONS
from ollama_nb.simulator import Simulator

TURNS = 60


def _kernel(path: str, host: str, name: str, start: Any, results: Any) -> None:
    """One 'kernel': wait for the other, then chat TURNS turns; report the warnings seen."""
    import os

    os.environ["OLLAMA_NB_DB"] = path
    from ollama_nb import Session

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = Session("llama3.2", host=host, name=name)
        start.wait(timeout=30)
        for index in range(TURNS):
            session.chat(f"{name} turn {index} [[tokens=3]]").read()
    results.put((name, [str(w.message) for w in caught], len(session.turns)))


def test_two_processes_write_turns_at_once_and_every_turn_lands(simulator: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "shared" / "record.db"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    kernels = [context.Process(target=_kernel, args=(str(path), simulator.url, name, start, results)) for name in ("a", "b")]
    for kernel in kernels:
        kernel.start()
    reports = sorted(results.get(timeout=90) for _ in kernels)
    for kernel in kernels:
        kernel.join(timeout=30)
        assert kernel.exitcode == 0
    assert reports == [("a", [], TURNS), ("b", [], TURNS)]  # no warning at all, every turn in memory
    db = sqlite3.connect(path)
    counts = dict(db.execute("SELECT session, count(*) FROM turns GROUP BY session").fetchall())
    assert counts == {"a": TURNS, "b": TURNS}
    prompts = {r[0] for r in db.execute("SELECT prompt FROM turns")}
    assert prompts == {f"{n} turn {i} [[tokens=3]]" for n in "ab" for i in range(TURNS)}
    assert db.execute("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'turn'").fetchone()[0] == 2 * TURNS
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)  # each applied once


def _forked_writer(record: Any, results: Any) -> None:
    from ollama_nb._record import RecordedTurn

    try:
        record.add(RecordedTurn(host="h", endpoint="generate", model="m", prompt="from the child", text="x"))
        results.put("ok")
    except Exception as exc:  # reported to the parent, which fails the test
        results.put(repr(exc))


def test_a_forked_process_opens_its_own_connection(tmp_path: Path) -> None:
    from ollama_nb._record import Record, RecordedTurn

    record = Record(tmp_path / "record.db")
    record.add(RecordedTurn(host="h", endpoint="generate", model="m", prompt="from the parent", text="x"))
    parent_connection = record.connection()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_forked_writer, args=(record, results))
    child.start()
    assert results.get(timeout=30) == "ok"
    child.join(timeout=30)
    assert record.connection() is parent_connection  # the parent's connection was left alone
    record.add(RecordedTurn(host="h", endpoint="generate", model="m", prompt="parent again", text="x"))
    assert [e.prompt for e in record.log()] == ["parent again", "from the child", "from the parent"]
