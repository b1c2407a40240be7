"""The record behind the magics: ``%ollama log/resume/export``, ``--cache`` and ``%config
OllamaMagics.db/cache``, in a real IPython shell against the simulator, over a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import ollama_nb
from ollama_nb import _session


@pytest.fixture
def ip(record_db: Path, magics_shell: InteractiveShell) -> InteractiveShell:
    return magics_shell


def run(ip: InteractiveShell, source: str) -> Any:
    result = ip.run_cell(source, store_history=True)
    assert result.error_in_exec is None, result.error_in_exec
    return result


def generations(simulator: Any) -> list[Any]:
    return [r for r in simulator.requests if r.path in ("/api/chat", "/api/generate")]


def column(path: Path, name: str) -> list[Any]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute(f"SELECT {name} FROM turns ORDER BY id")]
    finally:
        db.close()


def test_log_shows_and_returns_recent_turns_filtered_and_searched(ip: InteractiveShell, capsys: Any) -> None:
    run(ip, "%ollama_chat --session trip Why is the sky blue? [[tokens=3]]")
    run(ip, "%ollama_chat --session trip And the sea? [[tokens=3]]")
    run(ip, "%%ollama\nA haiku about rain [[tokens=3]]")
    capsys.readouterr()
    run(ip, "every = %ollama log")
    shown = capsys.readouterr().out
    assert "| # | when (UTC) | session | model | host | status | prompt | reply |" in shown
    assert "3 turns, newest first" in shown
    assert [t.prompt for t in ip.user_ns["every"]] == [
        "A haiku about rain [[tokens=3]]", "And the sea? [[tokens=3]]", "Why is the sky blue? [[tokens=3]]"
    ]
    run(ip, "found = %ollama log --search sky blue")
    assert [t.prompt for t in ip.user_ns["found"]] == ["Why is the sky blue? [[tokens=3]]"]
    run(ip, "mine = %ollama log -n 1 --session trip")
    assert [t.prompt for t in ip.user_ns["mine"]] == ["And the sea? [[tokens=3]]"]
    run(ip, "none = %ollama log --search nowhere")
    assert ip.user_ns["none"] == [] and "no turns recorded match" in capsys.readouterr().out
    assert isinstance(ip.user_ns["every"][0], ollama_nb.RecordedTurn)


def test_resume_then_chat_sends_the_whole_history(ip: InteractiveShell, simulator: Any) -> None:
    run(ip, "%ollama_chat --session trip -s 'Be brief.' Where to? [[tokens=3]]")
    run(ip, "%ollama_chat --session trip When? [[tokens=3]]")
    history = ollama_nb.get_session("trip").history
    _session.forget_sessions()  # what a kernel restart leaves
    run(ip, "s = %ollama resume trip")
    assert ip.user_ns["s"].history == history
    run(ip, "%ollama_chat --session trip How? [[tokens=2]]")
    assert generations(simulator)[-1].body["messages"] == [*history, {"role": "user", "content": "How? [[tokens=2]]"}]


def test_export_writes_markdown_and_json(ip: InteractiveShell, tmp_path: Path) -> None:
    run(ip, "%ollama_chat --session trip Where to? [[tokens=3]]")
    run(ip, f"md = %ollama export trip {tmp_path / 'trip.md'}")
    run(ip, f"js = %ollama export trip {tmp_path / 'trip.json'}")
    assert (tmp_path / "trip.md").read_text().startswith("# Conversation `trip`")
    assert json.loads((tmp_path / "trip.json").read_text())["turns"][0]["prompt"] == "Where to? [[tokens=3]]"
    assert ip.user_ns["md"] == str(tmp_path / "trip.md")


@pytest.mark.parametrize("source", ["%ollama resume", "%ollama export onlyname", "%ollama log -n x", "%ollama log --bogus"])
def test_bad_record_subcommands_are_usage_errors(ip: InteractiveShell, source: str, capsys: Any) -> None:
    result = ip.run_cell(source)
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert "usage is %ollama" in str(result.error_in_exec) or "invalid" in str(result.error_in_exec)


def test_resume_of_an_unknown_conversation_fails_in_one_short_line(ip: InteractiveShell) -> None:
    result = ip.run_cell("%ollama resume nobody")
    assert isinstance(result.error_in_exec, ollama_nb.RecordError)
    assert "'nobody'" in str(result.error_in_exec) and len(str(result.error_in_exec).splitlines()) == 1


def test_cache_answers_a_repeated_cell_from_the_record_and_says_so(ip: InteractiveShell, simulator: Any, capsys: Any) -> None:
    run(ip, "%%ollama --cache --seed 3 -o first\nA haiku [[tokens=5]]")
    capsys.readouterr()
    before = len(simulator.requests)
    run(ip, "%%ollama --cache --seed 3 -o second\nA haiku [[tokens=5]]")
    out = capsys.readouterr().out
    assert len(simulator.requests) == before  # no request at all
    assert ip.user_ns["second"] == ip.user_ns["first"] != ""
    footer = out.strip().splitlines()[-1]
    assert "reused from" in footer and "UTC" in footer
    assert column(ollama_nb.get_session().record.path, "reused_from") == [None, 1]


def test_the_cache_default_comes_from_config_and_no_cache_overrides_it(ip: InteractiveShell, simulator: Any) -> None:
    run(ip, "%%ollama --seed 3\nA haiku [[tokens=5]]")
    run(ip, "%%ollama --seed 3\nA haiku [[tokens=5]]")  # off by default: asked again
    assert len(generations(simulator)) == 2
    run(ip, "%config OllamaMagics.cache = True")
    run(ip, "%%ollama --seed 3\nA haiku [[tokens=5]]")
    assert len(generations(simulator)) == 2
    run(ip, "%%ollama --no-cache --seed 3\nA haiku [[tokens=5]]")
    assert len(generations(simulator)) == 3


def test_config_db_chooses_the_file_when_the_variable_is_unset(ip: InteractiveShell, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("OLLAMA_NB_DB")
    target = tmp_path / "configured.db"
    run(ip, f"%config OllamaMagics.db = '{target}'")
    run(ip, "%ollama_chat hi [[tokens=2]]")
    assert column(target, "prompt") == ["hi [[tokens=2]]"]
    run(ip, "%config OllamaMagics.db = 'off'")
    run(ip, "%ollama_chat again [[tokens=2]]")
    assert column(target, "prompt") == ["hi [[tokens=2]]"]


def test_the_notebook_path_and_cell_number_are_recorded(ip: InteractiveShell, record_db: Path) -> None:
    ip.user_ns["__session__"] = "/home/me/notebooks/trip.ipynb"  # what ipykernel sets from JPY_SESSION_NAME
    run(ip, "%ollama_chat hi [[tokens=2]]")
    assert column(record_db, "notebook") == ["/home/me/notebooks/trip.ipynb"]
    cell = ollama_nb.get_session().last.cell
    assert isinstance(cell, int) and column(record_db, "cell") == [cell]


def test_log_shows_model_and_server_text_escaped(ip: InteractiveShell) -> None:
    from IPython.utils.capture import capture_output

    run(ip, "%ollama_chat --session evil Show me HTML [[html]]")
    assert "<img" in ollama_nb.get_session("evil").last.text  # the model did send markup
    with capture_output() as captured:
        run(ip, "%ollama log --session evil")
    (table,) = [o.data["text/markdown"] for o in captured.outputs if "text/markdown" in o.data]
    assert "<img" not in table and "<script" not in table and "&lt;img" in table
