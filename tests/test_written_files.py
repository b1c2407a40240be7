"""Files the package writes (``save``, ``export``): private (0600), never over an existing file unless
asked, never through a symlink, and always strict JSON (no NaN or Infinity)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Callable

import pytest
from IPython.core.interactiveshell import InteractiveShell

from ollama_nb import OllamaError, Session, Timing
from ollama_nb._record import Record, RecordedTurn
from ollama_nb._record._export import export_conversation
from ollama_nb._session import Turn
from ollama_nb.simulator import Simulator

NAN_TIMING = Timing(ttft_s=float("nan"), wall_s=float("inf"), tokens_per_s=float("-inf"), output_tokens=3)


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in JSON written")

    return json.loads(text, parse_constant=refuse)


def saved_session(path: Path, *, overwrite: bool = False) -> None:
    session = Session("m", record=False)
    session.turns.append(Turn(endpoint="chat", model="m", prompt="hi", text="hello", timing=NAN_TIMING))
    session.save(path, overwrite=overwrite)


def exported(path: Path, *, overwrite: bool = False) -> None:
    entry = RecordedTurn(
        host="h", endpoint="chat", model="m", prompt="hi", text="hello", session="s", timing=NAN_TIMING
    )
    export_conversation("s", [entry], path, overwrite=overwrite)


WRITERS: dict[str, Callable[..., None]] = {"save": saved_session, "export": exported}


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_a_new_file_is_private_and_strict_json(tmp_path: Path, writer: str, umask: int) -> None:
    path = tmp_path / "out.json"
    old = os.umask(umask)
    try:
        WRITERS[writer](path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    strict_json(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("writer", WRITERS)
def test_an_existing_file_is_refused_unless_overwrite(tmp_path: Path, writer: str) -> None:
    path = tmp_path / "out.json"
    path.write_text("precious")
    with pytest.raises(OllamaError, match="already exists.*\n.*--force") as caught:
        WRITERS[writer](path)
    assert len(str(caught.value).splitlines()) == 2 and path.read_text() == "precious"
    os.chmod(path, 0o644)
    WRITERS[writer](path, overwrite=True)
    assert "hello" in path.read_text() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["out.json"]  # no temporary file left


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_symlink_is_never_written_through(tmp_path: Path, writer: str, overwrite: bool) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("do not touch")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    if overwrite:
        WRITERS[writer](link, overwrite=True)  # the link itself is replaced by a new file
        assert not link.is_symlink() and "hello" in link.read_text()
    else:
        with pytest.raises(OllamaError):
            WRITERS[writer](link)
    assert target.read_text() == "do not touch"


def test_a_dangling_symlink_is_not_followed_either(tmp_path: Path) -> None:
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "created-through-the-link")
    with pytest.raises(OllamaError):
        saved_session(link)
    assert not (tmp_path / "created-through-the-link").exists()


def test_the_magics_refuse_an_existing_file_without_force(
    simulator: Simulator, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("OLLAMA_NB_DB", str(tmp_path / "record.db"))
    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "ollama_nb")
        shell.run_line_magic("config", f"OllamaMagics.host = {simulator.url!r}")
        shell.run_line_magic("config", "OllamaMagics.model = 'llama3.2'")
        shell.run_cell_magic("ollama", "--session files", "hi [[tokens=2]]")
        path = tmp_path / "s.json"
        path.write_text("precious")
        for line in (f"save --session files {path}", f"export files {path}"):
            result = shell.run_cell(f"%ollama {line}")
            assert isinstance(result.error_in_exec, OllamaError) and path.read_text() == "precious"
            shell.run_line_magic("ollama", f"{line} --force")
            assert "hello" not in path.read_text() and path.read_text() != "precious"
            path.write_text("precious")
    finally:
        from ollama_nb._record._store import _RECORDS

        for record in list(_RECORDS.values()):
            record.close()
        _RECORDS.clear()
        InteractiveShell.clear_instance()


def test_the_record_holds_no_nan(tmp_path: Path) -> None:
    record = Record(tmp_path / "record.db")
    record.add(RecordedTurn(host="h", endpoint="chat", model="m", prompt="hi", text="t", timing=NAN_TIMING,
                            options={"temperature": float("nan")}))
    row = record.connection().execute("SELECT timing_json, options_json, ttft_s FROM turns").fetchone()
    strict_json(row[0]), strict_json(row[1])
    assert record.log()[0].timing.ttft_s is None


@pytest.mark.parametrize(
    "content",
    [None, "[1, 2]", '{"ollama_nb_session": 1, "turns": 5}', '{"ollama_nb_session": 1, "turns": [{"timing": 3}]}',
     '{"ollama_nb_session": 1, "turns": [{"nope": 1, "messages": 7}]}', "[" * 100_000],
)
def test_a_malformed_saved_session_is_one_line_naming_the_file(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(OllamaError) as caught:
        Session.load(path)
    assert str(path) in str(caught.value) and len(str(caught.value).splitlines()) == 1
