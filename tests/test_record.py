"""The record over a real SQLite file: what a turn row holds, reading, searching, resuming,
reuse without a request, and the file's privacy. Failure modes: tests/test_record_failures.py;
concurrency: tests/test_record_concurrency.py; the magics and a real kernel: test_record_magics.py."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import warnings
from pathlib import Path
from typing import Any

import pytest

from ollama_nb import Client, OllamaConnectionError, RecordError, Session
from ollama_nb._record import Record, RecordedTurn, open_record, record_path, request_key
from ollama_nb._record._export import export_conversation
from ollama_nb._record._schema import MIGRATIONS, migrate, schema_version
from ollama_nb.simulator import Simulator

SLOW = "Count slowly [[tokens=200]] [[delay=0.01]]"


def rows(path: Path, sql: str = "SELECT * FROM turns ORDER BY id") -> list[sqlite3.Row]:
    """Read the file with a connection of our own (not the Record's)."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def generations(simulator: Simulator) -> list[Any]:
    return [r for r in simulator.requests if r.path in ("/api/chat", "/api/generate")]


@pytest.fixture
def session(simulator: Simulator, record_db: Path) -> Session:
    return Session(model="llama3.2", system="Be brief.", host=simulator.url, name="demo")


# -- what is written -----------------------------------------------------------------------------


def test_a_finished_chat_turn_is_one_row_with_what_was_sent_and_what_came_back(session: Session, record_db: Path) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    reply = session.chat("Why is the sky blue? [[tokens=5]]", cell=4, seed=7, temperature=0.1, format=schema)
    reply.read()
    (row,) = rows(record_db)
    assert (row["session"], row["endpoint"], row["model"], row["cell"], row["status"]) == ("demo", "chat", "llama3.2", 4, "done")
    assert row["digest"] and len(row["digest"]) == 64  # from /api/tags, the model's real digest
    assert row["host"] == session.host and row["system"] == "Be brief."
    assert row["prompt"] == "Why is the sky blue? [[tokens=5]]" and row["text"] == reply.text != ""
    assert json.loads(row["options_json"]) == {"seed": 7, "temperature": 0.1}
    assert json.loads(row["format_json"]) == schema
    assert [m["role"] for m in json.loads(row["messages_json"])] == ["user", "assistant"]
    assert row["output_tokens"] == 5 and row["ttft_s"] is not None and row["wall_s"] is not None
    assert row["recorded_at"].endswith("+00:00") and row["started_at"] <= row["recorded_at"]
    server = f"{session.host} {session.client.version()}"  # the key is bound to the host and its Ollama version
    assert row["request_key"] == request_key("chat", reply.body, row["digest"], server=server)
    assert row["conversation"] and row["batch"] is None


def test_generate_think_tools_and_tool_results_are_recorded(session: Session, record_db: Path) -> None:
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"11 degrees in {city}"

    session.generate("Say hi [[tokens=3]]", think=True, model="qwen3").read()
    session.chat('Weather? [[tool=get_weather]] [[args={"city": "Oslo"}]]', tools=[get_weather]).read()
    generate, chat = rows(record_db)
    assert generate["endpoint"] == "generate" and generate["thinking"] and json.loads(generate["think"]) is True
    assert generate["in_context"] == 0
    assert json.loads(chat["tools_json"])[0]["function"]["name"] == "get_weather"
    (call,) = json.loads(chat["tool_calls_json"])
    assert call["function"]["arguments"] == {"city": "Oslo"}
    (result,) = json.loads(chat["tool_results_json"])
    assert result["content"] == "11 degrees in Oslo" and result["tool_name"] == "get_weather"


@pytest.mark.parametrize(
    ("prompt", "status", "error"),
    [
        ("cut [[tokens=4]] [[length]]", "cut at length", False),
        ("fails [[tokens=6]] [[error-after=3]]", "error", True),
    ],
)
def test_the_status_of_a_turn_that_did_not_simply_finish(session: Session, record_db: Path, prompt: str, status: str, error: bool) -> None:
    reply = session.chat(prompt)
    try:
        reply.read()
    except Exception:
        pass
    (row,) = rows(record_db)
    assert row["status"] == status and bool(row["error"]) is error
    assert row["text"] == reply.partial_text() != ""


def test_a_stopped_turn_keeps_its_partial_text_in_the_record(session: Session, record_db: Path, simulator: Simulator) -> None:
    reply = session.chat(SLOW)
    for index, _ in enumerate(reply):
        if index == 2:
            reply.stop()
    simulator.wait_for("disconnect", timeout=5)
    (row,) = rows(record_db)
    assert row["status"] == "stopped" and row["text"] == reply.partial_text() != ""


def test_a_recorded_turn_stays_lazy_and_learns_the_digest_after_the_server_answered(
    simulator: Simulator, session: Session
) -> None:
    reply = session.chat("hi [[tokens=2]]")
    cached = session.generate("hello [[tokens=2]]", cache=True)
    assert simulator.requests == []  # nothing is sent before a reply is read, digest lookup included
    reply.read()
    assert [r.path for r in simulator.requests] == ["/api/chat", "/api/tags", "/api/version"]
    cached.read()  # the digest and version are known now: the cache lookup needs no request
    assert [r.path for r in simulator.requests] == ["/api/chat", "/api/tags", "/api/version", "/api/generate"]


def test_after_a_change_of_host_the_digest_comes_from_the_new_host(simulator: Simulator, session: Session) -> None:
    session.chat("hi [[tokens=2]]").read()  # learns the digests of the first host
    with Simulator(port=0) as other:
        session.use_host(other.url)
        session.generate("hello [[tokens=2]]", cache=True).read()
        # its model may differ, and its Ollama version
        assert [r.path for r in other.requests] == ["/api/tags", "/api/version", "/api/generate"]


def test_with_the_server_down_a_cached_turn_fails_with_the_clients_error(session: Session, simulator: Simulator) -> None:
    simulator.stop()
    with pytest.raises(OllamaConnectionError) as info:
        session.generate("hello [[tokens=2]]", cache=True).read()
    assert len(str(info.value).splitlines()) <= 2 and session.last is not None and session.last.error


def test_the_file_is_private_to_the_user_and_its_folder_is_made(tmp_path: Path, simulator: Simulator, monkeypatch: Any) -> None:
    path = tmp_path / "new" / "deeper" / "record.db"
    monkeypatch.setenv("OLLAMA_NB_DB", str(path))
    Session("llama3.2", host=simulator.url).generate("hi [[tokens=2]]").read()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for side in path.parent.glob("record.db-*"):  # -wal, -shm while open
        assert stat.S_IMODE(side.stat().st_mode) == 0o600


def test_no_secret_reaches_the_file(simulator: Simulator, record_db: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-env-secret-4711")
    Session("llama3.2", host=simulator.url).chat("hi [[tokens=2]]").read()  # the key goes as a bearer token
    client = Client(simulator.url, headers={"Authorization": "Bearer sk-header-secret-0815"})
    Session("llama3.2", client=client).chat("hi [[tokens=2]]").read()
    sent = [r.has_authorization for r in simulator.requests if r.path == "/api/chat"]
    assert sent == [True, True]  # both were sent (the simulator's journal keeps no value)
    open_record(record_db).close()  # fold the WAL into the file
    data = b"".join(p.read_bytes() for p in record_db.parent.glob("record.db*"))
    assert data.count(b"hi [[tokens=2]]") >= 2  # the turns are there
    assert b"sk-header-secret-0815" not in data and b"sk-env-secret-4711" not in data
    assert b"Bearer" not in data and b"uthorization" not in data


def test_off_writes_nothing_and_asks_for_no_digest(simulator: Simulator, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("OLLAMA_NB_DB", "off")
    session = Session("llama3.2", host=simulator.url)
    session.chat("hi [[tokens=2]]").read()
    assert [r.path for r in simulator.requests] == ["/api/chat"]
    assert session.record is None and len(session.turns) == 1
    with pytest.raises(RecordError, match="recording is off"):
        session.log()


def test_where_the_record_lives(tmp_path: Path) -> None:
    assert record_path("/x/configured.db", environ={"OLLAMA_NB_DB": str(tmp_path / "env.db")}) == tmp_path / "env.db"
    assert record_path("/x/configured.db", environ={}) == Path("/x/configured.db")
    assert record_path("off", environ={}) is None
    default = record_path(None, environ={})
    assert default is not None and default.name == "record.db" and "ollama_nb" in default.parts


# -- migrations -----------------------------------------------------------------------------------


def test_migrations_run_once_and_are_recorded_by_name(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    migrate(db)
    migrate(db)
    names = [r[0] for r in db.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == sorted(step.__name__ for step in MIGRATIONS) and schema_version(db) == len(MIGRATIONS)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'turns_fts'").fetchone()[0] == 1
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # migrate() does not choose the mode
    record = Record(tmp_path / "m.db")
    assert record.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- reading ----------------------------------------------------------------------------------------


def _entry(prompt: str, text: str, session: str | None = "s", **more: Any) -> RecordedTurn:
    return RecordedTurn(host="http://h", endpoint="chat", model="m", prompt=prompt, text=text, session=session, **more)


def test_log_is_newest_first_filters_by_session_and_searches_every_word(tmp_path: Path) -> None:
    record = Record(tmp_path / "r.db")
    ids = [
        record.add(_entry("Why is the sky blue?", "Rayleigh scattering.", session="a")),
        record.add(_entry("And the sea?", "It reflects the sky.", session="b")),
        record.add(_entry("Name a colour", "Blue-green, \"teal\"", session="a")),
        record.add(_entry("unrelated", "nothing here", session="b")),
    ]
    assert [e.id for e in record.log()] == ids[::-1]
    assert [e.id for e in record.log(2)] == ids[:1:-1]
    assert [e.id for e in record.log(session="a")] == [ids[2], ids[0]]
    assert [e.id for e in record.log(search="sky")] == [ids[1], ids[0]]
    assert [e.id for e in record.log(search="SKY blue")] == [ids[0]]  # every word, any case
    assert [e.id for e in record.log(search='"teal" -x OR')] == []  # FTS syntax is just text
    assert [e.id for e in record.log(search='"teal"')] == [ids[2]]
    assert [e.id for e in record.log(search="sky", session="b")] == [ids[1]]
    assert record.count() == 4 and record.sessions() == ["b", "a"]


def test_session_log_reads_the_turns_back_as_recorded_turns(session: Session) -> None:
    session.chat("one [[tokens=2]]").read()
    session.generate("two [[tokens=2]]").read()
    two, one = session.log()
    assert (one.prompt, one.endpoint, two.prompt, two.endpoint) == ("one [[tokens=2]]", "chat", "two [[tokens=2]]", "generate")
    assert one.as_turn().messages == session.turns[0].messages
    assert session.log(search="two") == [two] and session.log(session="elsewhere") == []


# -- resume and export -------------------------------------------------------------------------------


def test_resume_rebuilds_the_conversation_and_the_next_turn_sends_the_whole_history(
    simulator: Simulator, record_db: Path
) -> None:
    first = Session("llama3.2", system="Be brief.", host=simulator.url, name="trip", options={"seed": 3})
    first.chat("Where to? [[tokens=3]]").read()
    first.chat("When? [[tokens=3]]").read()
    first.generate("aside [[tokens=2]]").read()
    other = Session("llama3.2", host=simulator.url, name="other")
    other.chat("noise [[tokens=2]]").read()
    history = first.history
    open_record(record_db).close()  # as after a restart: nothing in memory

    resumed = Session.resume("trip", host=simulator.url)
    assert resumed.history == history and len(resumed.turns) == 3
    assert (resumed.model, resumed.system, resumed.options, resumed.name) == ("llama3.2", "Be brief.", {"seed": 3}, "trip")
    resumed.chat("How? [[tokens=2]]").read()
    sent = generations(simulator)[-1].body["messages"]
    assert sent == [*history, {"role": "user", "content": "How? [[tokens=2]]"}]
    conversation = {r["conversation"] for r in rows(record_db, "SELECT * FROM turns WHERE session = 'trip'")}
    assert len(conversation) == 1  # the resumed turn continues the same conversation


def test_reset_starts_a_new_conversation_and_resume_takes_the_newest(simulator: Simulator, record_db: Path) -> None:
    session = Session("llama3.2", host=simulator.url, name="s")
    session.chat("old [[tokens=2]]").read()
    session.reset()
    session.chat("new [[tokens=2]]").read()
    assert [t.prompt for t in Session.resume("s").turns] == ["new [[tokens=2]]"]


def test_resume_of_an_unknown_name_is_a_short_error_naming_the_known_ones(session: Session) -> None:
    session.chat("hi [[tokens=2]]").read()
    with pytest.raises(RecordError) as info:
        Session.resume("nope")
    assert "'nope'" in str(info.value) and "'demo'" in str(info.value) and len(str(info.value).splitlines()) == 1


def test_export_writes_markdown_or_json_by_extension(session: Session, tmp_path: Path) -> None:
    session.chat("Why is the sky blue? [[tokens=3]]").read()
    session.chat("And the sea? [[tokens=3]]").read()
    entries = session.record.conversation("demo")
    md = export_conversation("demo", entries, tmp_path / "c.md").read_text()
    assert md.startswith("# Conversation `demo`") and "**System:** Be brief." in md
    assert md.index("Why is the sky blue?") < md.index(entries[0].text) < md.index("And the sea?")
    data = json.loads(export_conversation("demo", entries, tmp_path / "c.json").read_text())
    assert [t["prompt"] for t in data["turns"]] == ["Why is the sky blue? [[tokens=3]]", "And the sea? [[tokens=3]]"]
    assert data["system"] == "Be brief." and data["turns"][1]["text"] == entries[1].text


# -- reuse ------------------------------------------------------------------------------------------


def test_an_identical_request_is_answered_from_the_record_without_any_request(simulator: Simulator, session: Session) -> None:
    first = session.generate("A haiku [[markdown]]", seed=5, cache=True)
    text = first.read()
    before = len(simulator.requests)
    again = session.generate("A haiku [[markdown]]", seed=5, cache=True)
    chunks = [c.content for c in again]
    assert len(simulator.requests) == before  # nothing reached the server, not even /api/tags
    assert again.text == text and "".join(chunks) == text
    assert chunks[:-1] == text.splitlines(keepends=True) and chunks[-1] == ""  # line by line, then done
    assert again.reused_from.id == 1 and not again.stopped and again.error is None
    assert again.timing.output_tokens == first.timing.output_tokens
    assert session.turns[-1].text == text
    (row,) = rows(session.record.path, "SELECT * FROM turns WHERE id = 2")
    assert row["reused_from"] == 1 and row["status"] == "done"


def test_a_chat_turn_is_reused_by_a_new_session_with_the_same_system_and_prompt(simulator: Simulator, session: Session) -> None:
    text = session.chat("Why is the sky blue? [[tokens=4]]", seed=1).read()
    fresh = Session("llama3.2", system="Be brief.", host=simulator.url, name="demo")
    reply = fresh.chat("Why is the sky blue? [[tokens=4]]", seed=1, cache=True)
    assert reply.read() == text and reply.reused_from is not None
    assert len(generations(simulator)) == 1  # only /api/tags for the new session's digest
    assert fresh.history == session.history


def test_the_async_twins_reuse_too(simulator: Simulator, session: Session) -> None:
    async def main() -> tuple[str, Any]:
        text = await (await session.agenerate("async [[tokens=4]]", seed=2)).aread()
        reply = await session.agenerate("async [[tokens=4]]", seed=2, cache=True)
        await reply.aread()
        return text, reply

    text, reply = asyncio.run(main())
    assert reply.text == text and reply.reused_from is not None
    assert len(generations(simulator)) == 1


@pytest.mark.parametrize(
    "change",
    [{"seed": 6}, {"temperature": 0.3}, {"format": "json"}, {"model": "qwen3"}, {"system": "Be long."}, {"prompt": "A haiku!"}],
)
def test_anything_that_changes_the_answer_is_not_reused(simulator: Simulator, session: Session, change: dict[str, Any]) -> None:
    session.generate("A haiku [[tokens=3]]", seed=5).read()
    args: dict[str, Any] = {"seed": 5, **change}
    reply = session.generate(args.pop("prompt", "A haiku [[tokens=3]]"), cache=True, **args)
    reply.read()
    assert getattr(reply, "reused_from", None) is None and len(generations(simulator)) == 2


def test_a_stopped_or_failed_or_cut_turn_is_never_reused(simulator: Simulator, session: Session) -> None:
    reply = session.generate(SLOW, seed=1)
    for index, _ in enumerate(reply):
        if index == 1:
            reply.stop()
    for prompt in ("fails [[tokens=4]] [[error-after=2]]", "cut [[tokens=3]] [[length]]"):
        try:
            session.generate(prompt, seed=1).read()
        except Exception:
            pass
    for prompt in (SLOW, "fails [[tokens=4]] [[error-after=2]]", "cut [[tokens=3]] [[length]]"):
        again = session.generate(prompt, seed=1, cache=True)
        assert getattr(again, "reused_from", None) is None
        again.stop()
    assert [e.status for e in session.log()][3:] == ["cut at length", "error", "stopped"]


def test_a_request_for_logprobs_is_never_answered_from_the_record(simulator: Simulator, session: Session) -> None:
    first = session.generate("odds [[tokens=3]]", seed=1, logprobs=True, cache=True)
    first.read()
    again = session.generate("odds [[tokens=3]]", seed=1, logprobs=True, cache=True)
    again.read()
    assert getattr(again, "reused_from", None) is None and len(generations(simulator)) == 2
    assert generations(simulator)[-1].body["logprobs"] is True


def test_without_cache_the_model_is_asked_again(simulator: Simulator, session: Session) -> None:
    session.generate("hello [[tokens=2]]", seed=1).read()
    session.generate("hello [[tokens=2]]", seed=1).read()
    assert len(generations(simulator)) == 2
    session.cache = True
    reply = session.generate("hello [[tokens=2]]", seed=1)
    assert reply.reused_from is None and generations(simulator) and len(simulator.requests) == 4  # lazy: nothing yet
    reply.read()
    assert reply.reused_from is not None and len(simulator.requests) == 4  # type: ignore[attr-defined]


def test_a_model_pulled_again_has_another_digest_and_is_not_reused(simulator: Simulator, session: Session) -> None:
    session.generate("hi [[tokens=2]]", seed=1).read()
    session.recording.digests["llama3.2:latest"] = "sha256-of-a-newer-pull"  # what /api/tags says after a pull
    again = session.generate("hi [[tokens=2]]", seed=1, cache=True)
    again.read()
    assert getattr(again, "reused_from", None) is None and len(generations(simulator)) == 2
