"""Session over a real socket: history, turns (done, stopped, failed), saving, timings, trimming."""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest

from ollama_nb import (
    AsyncReply,
    Client,
    ContextTrimmedWarning,
    ModelNotFoundError,
    NoModelError,
    OllamaError,
    Reply,
    Session,
    StreamError,
    Timing,
    Turn,
    get_session,
)
from ollama_nb.simulator import Simulator

pytestmark = pytest.mark.timeout(30)

SLOW = "count slowly [[tokens=200]] [[delay=0.1]]"


@pytest.fixture
def session(simulator: Simulator) -> Iterator[Session]:
    with Client(simulator.url, backoff=0.0) as client:
        yield Session(model="llama3.2", system="Be brief.", client=client)


def sent_messages(sim: Simulator) -> list[dict[str, Any]]:
    body = sim.requests[-1].body
    assert body is not None
    return list(body["messages"])


# -- history ------------------------------------------------------------------------------------------


def test_history_starts_with_the_system_message(simulator: Simulator, session: Session) -> None:
    assert session.history == [{"role": "system", "content": "Be brief."}]
    first = session.chat("Hello [[tokens=3]]")
    first.read()
    assert sent_messages(simulator) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello [[tokens=3]]"},
    ]
    session.chat("And then? [[tokens=2]]").read()
    assert sent_messages(simulator) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello [[tokens=3]]"},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "And then? [[tokens=2]]"},
    ]
    assert [m["role"] for m in session.history] == ["system", "user", "assistant", "user", "assistant"]


def test_a_session_without_a_system_message_sends_none(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    assert session.history == []
    session.chat("hi [[tokens=2]]").read()
    assert [m["role"] for m in sent_messages(simulator)] == ["user"]


def test_session_options_are_merged_with_per_call_options(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url, options={"temperature": 0.2, "seed": 1})
    session.chat("hi [[tokens=2]]", seed=9, num_ctx=4096).read()
    body = simulator.requests[-1].body
    assert body is not None and body["options"] == {"temperature": 0.2, "seed": 9, "num_ctx": 4096}
    assert session.last is not None and session.last.options == {"temperature": 0.2, "seed": 9, "num_ctx": 4096}


def test_without_any_model_a_short_no_model_error_is_raised(simulator: Simulator) -> None:
    session = Session(host=simulator.url)
    with pytest.raises(NoModelError) as info:
        session.chat("hi")
    assert 1 <= len(str(info.value).splitlines()) <= 3 and "model=" in str(info.value)
    assert simulator.requests == [] and session.turns == []


def test_a_per_call_model_overrides_the_session_model(simulator: Simulator, session: Session) -> None:
    session.chat("hi [[tokens=1]]", model="qwen3").read()
    assert simulator.requests[-1].body["model"] == "qwen3"  # type: ignore[index]
    assert session.last is not None and session.last.model == "qwen3"


# -- turns --------------------------------------------------------------------------------------------


def test_a_finished_turn_is_recorded_with_text_timing_and_flags(session: Session) -> None:
    reply = session.chat("Why is the sky blue? [[tokens=5]]", cell=7, temperature=0.5)
    assert isinstance(reply, Reply) and session.turns == []  # recorded when the stream ends
    reply.read()
    (turn,) = session.turns
    assert isinstance(turn, Turn) and turn is session.last
    assert turn.prompt == "Why is the sky blue? [[tokens=5]]"
    assert turn.text == reply.text != ""
    assert (turn.model, turn.endpoint, turn.cell) == ("llama3.2", "chat", 7)
    assert turn.options == {"temperature": 0.5}
    assert (turn.stopped, turn.error, turn.done_reason, turn.status) == (False, None, "stop", "done")
    assert turn.timing == reply.timing and turn.timing.output_tokens == 5
    assert turn.started_at.endswith("+00:00")
    assert turn.in_context
    assert turn.messages == (
        {"role": "user", "content": "Why is the sky blue? [[tokens=5]]"},
        {"role": "assistant", "content": reply.text},
    )
    assert "done" in repr(turn)


def test_a_stopped_turn_keeps_its_partial_text_and_stays_in_history(simulator: Simulator, session: Session) -> None:
    reply = session.chat(SLOW)
    received = []
    for chunk in reply:
        received.append(chunk.content)
        if len(received) == 2:
            reply.stop()
    assert simulator.wait_for("disconnect", timeout=5).lines_sent < 201
    (turn,) = session.turns
    assert turn.stopped and turn.status == "stopped" and turn.error is None
    assert turn.text == "".join(received) == reply.text
    assert turn.in_context
    assert session.history[-1] == {"role": "assistant", "content": turn.text}
    session.chat("go on [[tokens=1]]").read()
    assert {"role": "assistant", "content": turn.text} in sent_messages(simulator)


def test_a_failed_turn_is_in_turns_but_not_in_history(simulator: Simulator, session: Session) -> None:
    reply = session.chat("hi [[tokens=10]] [[error-after=3]]")
    with pytest.raises(StreamError):
        reply.read()
    (turn,) = session.turns
    assert turn.error is not None and "model runner has unexpectedly stopped" in turn.error
    assert turn.status == "error" and not turn.stopped
    assert turn.text == reply.text != ""  # the partial text is kept on the turn
    assert not turn.in_context
    assert session.history == [{"role": "system", "content": "Be brief."}]
    session.chat("again [[tokens=1]]").read()
    assert [m["content"] for m in sent_messages(simulator)] == ["Be brief.", "again [[tokens=1]]"]
    assert len(session.turns) == 2


def test_a_turn_that_failed_before_streaming_is_recorded_as_an_error(session: Session) -> None:
    with pytest.raises(ModelNotFoundError):
        session.chat("hi", model="missing-model").read()
    (turn,) = session.turns
    assert turn.status == "error" and "ollama pull missing-model" in (turn.error or "")
    assert turn.text == "" and not turn.in_context
    assert len(session.history) == 1


def test_a_new_turn_closes_the_connection_of_the_reply_still_open(simulator: Simulator, session: Session) -> None:
    first = session.chat(SLOW)
    chunks = iter(first)
    next(chunks)
    second = session.chat("next [[tokens=2]]")
    assert simulator.wait_for("disconnect", timeout=5).lines_sent < 201
    assert second.text
    chunks.close()
    assert first.stopped
    assert sorted(t.status for t in session.turns) == ["done", "stopped"]


def test_a_new_turn_marks_the_reply_still_open_stopped_and_records_it_first(
    simulator: Simulator, session: Session
) -> None:
    first = session.chat(SLOW)
    chunks = iter(first)
    next(chunks)
    second = session.chat("next [[tokens=2]]")
    try:
        assert first.stopped and first.done
        second.read()
        assert [t.status for t in session.turns] == ["stopped", "done"]
    finally:
        chunks.close()


def test_a_turn_that_was_never_sent_does_not_enter_the_history(simulator: Simulator, session: Session) -> None:
    session.chat("never read")
    session.chat("next [[tokens=2]]").read()
    assert [m["content"] for m in sent_messages(simulator)] == ["Be brief.", "next [[tokens=2]]"]


def test_generate_is_recorded_as_a_turn_but_not_in_the_conversation(simulator: Simulator, session: Session) -> None:
    reply = session.generate("Summarise [[tokens=3]]")
    reply.read()
    body = simulator.requests[-1].body
    assert body is not None and body["system"] == "Be brief." and body["prompt"] == "Summarise [[tokens=3]]"
    (turn,) = session.turns
    assert turn.endpoint == "generate" and turn.text == reply.text and not turn.in_context
    assert session.history == [{"role": "system", "content": "Be brief."}]


def test_last_is_none_before_any_turn_and_then_the_newest(session: Session) -> None:
    assert session.last is None
    session.chat("one [[tokens=1]]").read()
    session.chat("two [[tokens=1]]").read()
    assert session.last is session.turns[-1] and session.last.prompt == "two [[tokens=1]]"


def test_reset_forgets_turns_and_keeps_model_system_and_options(session: Session) -> None:
    session.options["seed"] = 3
    session.chat("one [[tokens=1]]").read()
    session.reset()
    assert session.turns == [] and session.last is None
    assert session.history == [{"role": "system", "content": "Be brief."}]
    assert (session.model, session.system, session.options) == ("llama3.2", "Be brief.", {"seed": 3})


def test_reset_closes_the_connection_of_a_reply_still_open(simulator: Simulator, session: Session) -> None:
    reply = session.chat(SLOW)
    chunks = iter(reply)
    next(chunks)
    session.reset()
    assert simulator.wait_for("disconnect", timeout=5).lines_sent < 201
    chunks.close()
    assert reply.stopped


def test_a_reply_stopped_by_reset_does_not_come_back_as_a_turn(session: Session) -> None:
    reply = session.chat(SLOW)
    chunks = iter(reply)
    next(chunks)
    session.reset()
    chunks.close()  # the user's loop ends later (or the iterator is garbage-collected)
    assert session.turns == []
    assert session.history == [{"role": "system", "content": "Be brief."}]


def test_use_host_switches_the_server_and_keeps_the_history(simulator: Simulator) -> None:
    with Simulator() as other:
        session = Session(model="llama3.2", host=simulator.url)
        session.chat("one [[tokens=1]]").read()
        session.use_host(f"127.0.0.1:{other.port}")
        assert session.host == other.url
        session.chat("two [[tokens=1]]").read()
        assert len(simulator.requests) == 1
        assert [m["role"] for m in sent_messages(other)] == ["user", "assistant", "user"]


def test_repr_names_model_host_and_turn_count(simulator: Simulator, session: Session) -> None:
    assert repr(session) == f"<Session llama3.2 at {simulator.url}: 0 turns>"


# -- saving ---------------------------------------------------------------------------------------------


def test_save_and_load_round_trip_history_and_turns(simulator: Simulator, session: Session, tmp_path: Path) -> None:
    session.options["seed"] = 1
    session.chat("Grüße 日本 one [[tokens=3]]", cell=1).read()
    stopped = session.chat(SLOW)
    for _ in stopped:
        stopped.stop()
    with pytest.raises(StreamError):
        session.chat("three [[error-after=1]]").read()
    session.generate("four [[tokens=2]]").read()
    path = tmp_path / "session.json"
    session.save(path)
    json.loads(path.read_text(encoding="utf-8"))  # plain JSON on disk
    loaded = Session.load(path, host=simulator.url)
    assert loaded.turns == session.turns
    assert loaded.history == session.history
    assert [t.status for t in loaded.turns] == ["done", "stopped", "error", "done"]
    assert (loaded.model, loaded.system, loaded.options, loaded.host) == (
        "llama3.2", "Be brief.", {"seed": 1}, simulator.url,
    )
    assert isinstance(loaded.turns[0].timing, Timing)


def test_load_can_point_the_session_at_another_host(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    session.save(path)
    assert Session.load(path, host="0.0.0.0:9999").host == "http://127.0.0.1:9999"


def test_a_loaded_session_continues_the_conversation(simulator: Simulator, session: Session, tmp_path: Path) -> None:
    session.chat("one [[tokens=2]]").read()
    path = tmp_path / "s.json"
    session.save(path)
    loaded = Session.load(path, host=simulator.url)
    loaded.chat("two [[tokens=1]]").read()
    assert [m["role"] for m in sent_messages(simulator)] == ["system", "user", "assistant", "user"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no session file"), ("{not json", "not JSON"), ('{"turns": []}', "not a session saved by ollama_nb"), ("[1]", "not a session")],
)
def test_loading_something_that_is_not_a_session_is_a_short_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(OllamaError, match=message) as info:
        Session.load(path)
    assert len(str(info.value).splitlines()) <= 3 and "bad.json" in str(info.value)


def test_turn_as_dict_and_from_dict_round_trip() -> None:
    turn = Turn(prompt="p", text="t", model="m", options={"seed": 1}, timing=Timing(ttft_s=0.1),
                messages=({"role": "user", "content": "p"},), done_reason="length")
    assert Turn.from_dict(json.loads(json.dumps(turn.as_dict()))) == turn
    assert turn.status == "cut at length"


# -- timings -----------------------------------------------------------------------------------------------


def test_timings_is_a_dataframe_with_one_row_per_turn(session: Session) -> None:
    pandas = pytest.importorskip("pandas")
    assert len(session.timings()) == 0
    session.chat("one [[tokens=3]]").read()
    session.chat("two [[tokens=4]]").read()
    frame = session.timings()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame["turn"]) == [1, 2]
    assert list(frame["output_tokens"]) == [3, 4]
    assert list(frame["ttft_s"]) == [t.timing.ttft_s for t in session.turns]
    assert {"model", "prompt", "tokens_per_s", "wall_s", "done_reason", "stopped", "error"} <= set(frame.columns)


def test_timings_is_a_list_of_dicts_without_pandas(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    session.chat("x" * 60 + " [[tokens=2]]").read()
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    (row,) = session.timings()
    assert row["turn"] == 1 and row["output_tokens"] == 2
    assert len(row["prompt"]) == 40 and row["prompt"].endswith("…")


# -- registry ------------------------------------------------------------------------------------------------


def test_get_session_returns_the_same_session_for_the_same_name() -> None:
    a = get_session("test_session_registry_a")
    assert get_session("test_session_registry_a") is a
    assert get_session("test_session_registry_b") is not a
    assert get_session() is get_session("default")
    assert isinstance(a, Session)


# -- context window -------------------------------------------------------------------------------------------


def test_a_small_num_ctx_drops_the_oldest_turns_and_keeps_the_system_message(
    simulator: Simulator, session: Session
) -> None:
    long = "x" * 200
    for number in range(2):
        session.chat(f"turn {number} {long} [[tokens=20]]", num_ctx=256).read()
    with pytest.warns(ContextTrimmedWarning, match="oldest turn") as caught:
        reply = session.chat(f"turn 2 {long} [[tokens=20]]", num_ctx=256)
    assert caught[0].filename == __file__  # the warning points at the caller
    assert any("context window" in note and "256" in note for note in reply.notes)
    reply.read()
    assert [t.in_context for t in session.turns] == [False, True, True]
    sent = sent_messages(simulator)
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert not any(m["content"].startswith("turn 0") for m in sent)
    assert sent[-1]["content"].startswith("turn 2")
    assert len(session.turns) == 3  # dropped from the context, not from the record


def test_without_num_ctx_the_models_context_length_from_show_is_used(simulator: Simulator) -> None:
    session = Session(model="tiny-ctx512", host=simulator.url)
    big = "y" * 4500
    session.chat(f"a {big} [[tokens=2]]").read()
    assert "/api/show" not in [r.path for r in simulator.requests]  # small history: no need to ask
    with pytest.warns(ContextTrimmedWarning, match=r"tiny-ctx512 \(512 tokens\)"):
        reply = session.chat(f"b {big} [[tokens=2]]")
    reply.read()
    assert "/api/show" in [r.path for r in simulator.requests]
    assert [t.in_context for t in session.turns] == [False, True]


def test_no_trimming_and_no_warning_when_the_conversation_fits(session: Session) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ContextTrimmedWarning)
        for _ in range(3):
            session.chat("short [[tokens=2]]", num_ctx=4096).read()
    assert all(t.in_context for t in session.turns)
    assert session.last is not None


def test_a_reply_cut_at_the_length_limit_is_noted(session: Session) -> None:
    reply = session.chat("hi [[tokens=5]] [[length]]")
    reply.read()
    assert reply.done_reason == "length"
    assert any("length limit" in note for note in reply.notes)
    assert session.last is not None and session.last.status == "cut at length"


def test_num_predict_cuts_the_reply_and_it_is_noted(session: Session) -> None:
    reply = session.chat("hi [[tokens=30]]", num_predict=4)
    reply.read()
    assert reply.done_reason == "length" and reply.timing.output_tokens == 4
    assert any("length limit" in note for note in reply.notes)
    assert session.last is not None and session.last.done_reason == "length"


# -- async -----------------------------------------------------------------------------------------------------


def test_achat_and_agenerate_record_turns_like_their_sync_twins(simulator: Simulator) -> None:
    session = Session(model="llama3.2", system="Be brief.", host=simulator.url)

    async def main() -> tuple[AsyncReply, AsyncReply]:
        chat = await session.achat("hello [[tokens=3]]", cell=2)
        assert isinstance(chat, AsyncReply)
        await chat.aread()
        generated = await session.agenerate("summarise [[tokens=2]]")
        await generated.aread()
        return chat, generated

    chat, generated = asyncio.run(main())
    first, second = session.turns
    assert (first.endpoint, first.text, first.cell, first.in_context) == ("chat", chat.text, 2, True)
    assert (second.endpoint, second.text, second.in_context) == ("generate", generated.text, False)
    assert session.history == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello [[tokens=3]]"},
        {"role": "assistant", "content": chat.text},
    ]
    assert [r.path for r in simulator.requests] == ["/api/chat", "/api/generate"]


def test_a_stopped_async_turn_keeps_its_partial_text(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url)

    async def main() -> AsyncReply:
        reply = await session.achat(SLOW)
        async for _ in reply:
            reply.stop()
        return reply

    reply = asyncio.run(main())
    assert simulator.wait_for("disconnect", timeout=5).lines_sent < 201
    (turn,) = session.turns
    assert turn.stopped and turn.text == reply.text != "" and turn.in_context


def test_achat_trims_the_context_too(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url, options={"num_ctx": 256})
    long = "z" * 200

    async def main() -> AsyncReply:
        for number in range(2):
            await (await session.achat(f"{number} {long} [[tokens=20]]")).aread()
        with pytest.warns(ContextTrimmedWarning):
            reply = await session.achat(f"2 {long} [[tokens=20]]")
        await reply.aread()
        return reply

    reply = asyncio.run(main())
    assert reply.notes and [t.in_context for t in session.turns] == [False, True, True]
