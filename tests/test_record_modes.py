"""Every way of naming the record works, and the record never hangs or raises out of a turn.

Real SQLite files: ``OLLAMA_NB_DB`` as a path, ``file:…?mode=ro``, ``file:…?immutable=1``,
``file::memory:?…`` and ``:memory:``; a record written by a newer ollama_nb; rows that do not decode.
Each open mode runs in a child process with a time limit, since a regression here spins for ever.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from ollama_nb import RecordError, RecordWarning, Session
from ollama_nb._record import Record
from ollama_nb._record._schema import migrate
from ollama_nb.simulator import Simulator

_TURNS = textwrap.dedent(
    """
    import sys, warnings
    from ollama_nb import Session
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        session = Session("llama3.2", host=sys.argv[1], name="s")
        texts = [session.chat(f"{word} [[tokens=2]]").read() != "" for word in ("one", "two")]
        log = [e.prompt for e in session.log()]
    print(texts, log, sum("record" in str(w.message) for w in caught))
    """
)


def run_turns(simulator: Simulator, db: str, cwd: Path) -> str:
    env = {**os.environ, "OLLAMA_NB_DB": db, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _TURNS, simulator.url], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def written(path: Path) -> Path:
    """A record at ``path`` holding one turn of session ``old``."""
    record = Record(path)
    record.add(_turn("kept"))
    record.close()
    return path


def _turn(prompt: str) -> Any:
    from ollama_nb._record import RecordedTurn

    return RecordedTurn(host="http://h:1", endpoint="chat", model="m", prompt=prompt, text="t", session="old",
                        conversation="c1")


@pytest.mark.parametrize(
    ("db", "expected"),
    [
        (":memory:", "[True, True] ['two [[tokens=2]]', 'one [[tokens=2]]'] 0"),
        ("file::memory:?cache=shared", "[True, True] ['two [[tokens=2]]', 'one [[tokens=2]]'] 0"),
        ("file:{path}?mode=ro", "[True, True] ['kept'] 1"),
        ("file:{path}?immutable=1", "[True, True] ['kept'] 1"),
    ],
)
def test_every_open_mode_works_and_a_read_only_one_warns_once(
    simulator: Simulator, tmp_path: Path, db: str, expected: str
) -> None:
    path = written(tmp_path / "record.db")
    assert run_turns(simulator, db.format(path=path), tmp_path) == expected
    wal = ["record.db", "record.db-shm", "record.db-wal"]  # SQLite reads a WAL file read-only through these
    assert sorted(os.listdir(tmp_path)) in (["record.db"], wal)  # no ":memory:" file
    if "mode=ro" in db or "immutable" in db:
        assert Record(path).count() == 1  # nothing was written


def test_a_read_only_connection_gets_no_journal_switch_and_no_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.commit()
    db.close()
    record = Record(f"file:{path}?mode=ro")
    record.connection()
    assert record.read_only
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert check.execute("SELECT count(*) FROM migrations").fetchone()[0] == 0


def test_a_record_from_a_newer_ollama_nb_is_read_only_with_one_warning(simulator: Simulator, tmp_path: Path) -> None:
    path = written(tmp_path / "record.db")
    db = sqlite3.connect(path)
    db.execute("INSERT INTO migrations VALUES ('m999_from_the_future', '2030-01-01')")
    db.commit()
    db.close()
    record = Record(path)
    session = Session("llama3.2", host=simulator.url, record=record)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for word in ("one", "two"):
            session.chat(f"{word} [[tokens=2]]").read()
        assert [e.prompt for e in record.log()] == ["kept"]
    messages = [str(w.message) for w in caught if issubclass(w.category, RecordWarning)]
    assert len(messages) == 1 and "newer ollama_nb" in messages[0], messages
    assert record.read_only and record.count() == 1


def test_a_file_sqlite_can_only_read_is_read_only(simulator: Simulator, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes through file permissions")
    path = written(tmp_path / "record.db")
    os.chmod(path, 0o400)
    record = Record(path)
    assert record.log()[0].prompt == "kept" and record.read_only
    with pytest.raises(RecordError, match="read-only"):
        record.add(_turn("new"))


def test_a_row_that_does_not_decode_is_skipped_with_one_warning(simulator: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "record.db"
    record = Record(path)
    for prompt in ("first", "broken", "third"):
        record.add(_turn(prompt))
    db = sqlite3.connect(path)
    db.execute("UPDATE turns SET options_json = '{not json', timing_json = '[[[' WHERE prompt = 'broken'")
    db.commit()
    db.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [e.prompt for e in record.log()] == ["third", "first"]
        assert [e.prompt for e in record.conversation("old")] == ["first", "third"]
        resumed = Session.resume("old", record=record, host=simulator.url)
    assert [t.prompt for t in resumed.turns] == ["first", "third"]
    messages = [str(w.message) for w in caught if issubclass(w.category, RecordWarning)]
    assert len(messages) == 3 and all("skipped 1 turn(s)" in m for m in messages)


def test_a_broken_cached_row_is_a_miss_not_an_exception(simulator: Simulator, tmp_path: Path) -> None:
    record = Record(tmp_path / "record.db")
    session = Session("llama3.2", host=simulator.url, record=record)
    session.generate("same [[tokens=2]]", seed=1).read()
    record.connection().execute("UPDATE turns SET timing_json = 'not json'")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        again = session.generate("same [[tokens=2]]", seed=1, cache=True)
        assert again.read() != "" and getattr(again, "reused_from", None) is None


def test_the_retry_for_wal_is_bounded_by_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "record.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE x (a)")
    other.execute("BEGIN EXCLUSIVE")  # another process holds the file while the record opens it
    try:
        with pytest.raises(RecordError, match="locked"):
            Record(path, busy_timeout=0.2).connection()
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_migrate_on_a_memory_database_still_builds_the_tables() -> None:
    db = sqlite3.connect(":memory:")
    migrate(db)
    assert db.execute("SELECT count(*) FROM turns").fetchone()[0] == 0


@pytest.mark.parametrize("search", ["hello\x00", "\x00", "hello \x00 world", "wor\x00ld"])
def test_a_nul_in_a_search_is_a_word_break_not_an_error(tmp_path: Path, search: str) -> None:
    record = Record(tmp_path / "record.db")
    record.add(_turn("hello world"))
    found = record.log(search=search)
    assert [e.prompt for e in found] == ([] if search == "wor\x00ld" else ["hello world"])
