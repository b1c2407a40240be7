"""Answers are bound to where they came from: the request key covers the host and the Ollama version,
and a resumed or loaded session talks to the host it is given (else the configured one), never
silently to the one recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ollama_nb import Session
from ollama_nb._record import Record
from ollama_nb.magics._record_commands import log_rows
from ollama_nb.simulator import Simulator, _endpoints


def generations(simulator: Simulator) -> int:
    return sum(r.path == "/api/generate" for r in simulator.requests)


def ask(host: str, record: Record) -> Any:
    reply = Session("llama3.2", host=host, record=record).generate("same [[tokens=3]]", seed=1, cache=True)
    reply.read()
    return reply


def test_an_answer_is_never_reused_for_another_host(simulator: Simulator, tmp_path: Path) -> None:
    record = Record(tmp_path / "record.db")
    ask(simulator.url, record)
    assert ask(simulator.url, record).reused_from is not None  # same host, same version: reused
    with Simulator(port=0) as other:  # the same model, the same digest, another server
        again = ask(other.url, record)
        assert again.reused_from is None and generations(other) == 1


def test_an_answer_is_not_reused_after_the_server_was_upgraded(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = Record(tmp_path / "record.db")
    ask(simulator.url, record)
    monkeypatch.setattr(_endpoints, "VERSION", "99.0.0")
    again = ask(simulator.url, record)
    assert again.reused_from is None and generations(simulator) == 2
    assert ask(simulator.url, record).reused_from is not None  # reused again on the upgraded server


def test_resume_talks_to_the_configured_host_not_the_recorded_one(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = Record(tmp_path / "record.db")
    with Simulator(port=0) as elsewhere:
        Session("llama3.2", host=elsewhere.url, name="trip", record=record).chat("hi [[tokens=2]]").read()
        monkeypatch.setenv("OLLAMA_HOST", simulator.url)
        resumed = Session.resume("trip", record=record)
        assert resumed.host == simulator.url
        assert Session.resume("trip", record=record, host=elsewhere.url).host == elsewhere.url
        resumed.chat("and then? [[tokens=2]]").read()
        assert [r.path for r in elsewhere.requests].count("/api/chat") == 1  # nothing more went there
        rows = log_rows(record.log())
        assert [str(row["host"]) for row in rows] == [simulator.url, elsewhere.url]


def test_load_talks_to_the_configured_host_not_the_saved_one(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.json"
    session = Session("llama3.2", host="http://127.0.0.1:9", record=False)
    session.save(path)
    monkeypatch.setenv("OLLAMA_HOST", simulator.url)
    assert Session.load(path).host == simulator.url


@pytest.mark.parametrize("recorded", [False, True], ids=["in memory", "in the record"])
def test_a_batch_reuses_an_answer_only_for_the_host_that_gave_it(
    simulator: Simulator, tmp_path: Path, recorded: bool
) -> None:
    session = Session("llama3.2", host=simulator.url, record=Record(tmp_path / "record.db") if recorded else False)
    items = ["a", "b"]
    first = session.map("{item} [[tokens=2]]", items, seed=1)
    first.wait()
    with Simulator(port=0) as other:
        elsewhere = session.map("{item} [[tokens=2]]", items, seed=1, hosts=[other.url])
        elsewhere.wait()
        assert [r.reused for r in elsewhere.results] == [False, False]
        assert sum(r.path == "/api/generate" for r in other.requests) == 2
    again = session.map("{item} [[tokens=2]]", items, seed=1)
    again.wait()
    assert [r.reused for r in again.results] == [True, True]
