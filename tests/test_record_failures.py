"""A record that cannot be written — locked, corrupt, read-only, full — costs nothing the user
sees: the reply streams, the turn is kept in memory, and the session warns once, in one line."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest

from ollama_nb import RecordError, RecordWarning, Session
from ollama_nb._record import Record
from ollama_nb.simulator import Simulator


def three_turns(session: Session, padding: str = "") -> list[str]:
    """Chat three turns; return the RecordWarnings' messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for word in ("one", "two", "three"):
            reply = session.chat(f"{word} [[tokens=4]]{padding}")
            assert reply.read().startswith("*(simulated reply)*")  # it streamed in full
    assert [t.status for t in session.turns] == ["done"] * 3  # and is kept in memory
    assert len(session.history) == 6
    return [str(w.message) for w in caught if issubclass(w.category, RecordWarning)]


def check_one_short_warning(messages: list[str], *words: str) -> None:
    assert len(messages) == 1, messages
    (message,) = messages
    assert len(message.splitlines()) == 1 and len(message) < 400
    assert "kept in memory" in message and "OLLAMA_NB_DB=off" in message
    for word in words:
        assert word in message, (word, message)


def test_a_locked_database_warns_once_and_writing_resumes_when_the_lock_is_gone(simulator: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "record.db"
    record = Record(path, busy_timeout=0.05)
    record.connection()  # created and migrated
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another kernel holding the write lock for too long
    session = Session("llama3.2", host=simulator.url, record=record)
    try:
        messages = three_turns(session)
    finally:
        other.execute("ROLLBACK")
        other.close()
    check_one_short_warning(messages, "locked", str(path))
    assert record.count() == 0
    session.chat("four [[tokens=2]]").read()
    assert [e.prompt for e in record.log()] == ["four [[tokens=2]]"]


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a SQLite database, just text that took its place. " * 200)


def _under_a_file(path: Path) -> None:
    path.parent.write_text("a file where the record's folder should be")


@pytest.mark.parametrize(
    ("spoil", "where", "words"),
    [
        (_garbage, "record.db", ("not a database",)),
        (_under_a_file, "blocker/record.db", ("Not a directory",)),
    ],
    ids=["corrupt", "cannot-create"],
)
def test_a_record_that_cannot_be_opened_warns_once(
    simulator: Simulator, tmp_path: Path, monkeypatch: Any, spoil: Callable[[Path], None], where: str, words: tuple[str, ...]
) -> None:
    path = tmp_path / where
    spoil(path)
    monkeypatch.setenv("OLLAMA_NB_DB", str(path))
    session = Session("llama3.2", host=simulator.url)
    check_one_short_warning(three_turns(session), *words)
    with pytest.raises(RecordError):
        session.log()


def test_a_read_only_record_warns_once_and_can_still_be_read(simulator: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "record.db"
    writer = Session("llama3.2", host=simulator.url, name="old", record=Record(path))
    writer.chat("kept [[tokens=2]]").read()
    writer.record.close()
    read_only = Record(f"file:{path}?mode=ro")  # root ignores chmod; SQLite's read-only mode does not
    session = Session("llama3.2", host=simulator.url, record=read_only)
    check_one_short_warning(three_turns(session), "read-only")
    assert [e.prompt for e in session.log()] == ["kept [[tokens=2]]"]
    assert [t.prompt for t in Session.resume("old", record=read_only).turns] == ["kept [[tokens=2]]"]


def test_a_full_database_warns_once(simulator: Simulator, tmp_path: Path) -> None:
    record = Record(tmp_path / "record.db")
    db = record.connection()
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page
    session = Session("llama3.2", host=simulator.url, record=record)
    check_one_short_warning(three_turns(session, padding=" padding" * 250), "full")
    assert record.count() == 0


def test_a_failed_lookup_for_reuse_asks_the_model_instead(simulator: Simulator, tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "record.db"
    _garbage(path)
    monkeypatch.setenv("OLLAMA_NB_DB", str(path))
    session = Session("llama3.2", host=simulator.url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reply = session.generate("hi [[tokens=3]]", seed=1, cache=True)
        assert reply.read() and getattr(reply, "reused_from", None) is None
    assert [r.path for r in simulator.requests] == ["/api/tags", "/api/version", "/api/generate"]
    assert sum(issubclass(w.category, RecordWarning) for w in caught) == 1


def test_a_failing_record_warns_once_per_session_for_its_turns_and_batches(
    simulator: Simulator, tmp_path: Path, monkeypatch: Any
) -> None:
    path = tmp_path / "record.db"
    _garbage(path)
    monkeypatch.setenv("OLLAMA_NB_DB", str(path))
    session = Session("llama3.2", host=simulator.url)
    messages = three_turns(session)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = session.map("{item} [[tokens=2]]", ["a", "b"])
        batch.wait()
    assert [r.status for r in batch.results] == ["ok", "ok"]  # the batch went on
    check_one_short_warning(messages + [str(w.message) for w in caught if issubclass(w.category, RecordWarning)])


def test_a_sessions_turns_and_batches_share_one_writer_and_one_warning(simulator: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "record.db"
    record = Record(path, busy_timeout=0.05)
    record.connection()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # every write fails while another kernel holds the lock
    session = Session("llama3.2", host=simulator.url, record=record)
    try:
        messages = three_turns(session)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            batch = session.map("{item}", ["a [[tokens=2]]", "b [[tokens=2]]"])
            assert [r.status for r in batch.results] == ["ok", "ok"]  # the batch goes on
        messages += [str(w.message) for w in caught if issubclass(w.category, RecordWarning)]
    finally:
        other.execute("ROLLBACK")
        other.close()
    check_one_short_warning(messages, "locked")
    again = session.map("{item}", ["c [[tokens=2]]"])  # the lock is gone: batch items are written again
    assert [r.status for r in again.results] == ["ok"]
    assert [e.prompt for e in record.log(batch=again.id)] == ["c [[tokens=2]]"]
