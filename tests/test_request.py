"""One request description (ChatRequest/GenerateRequest), built once and shared by every caller,
and the client–reply seam: a reply is given its opener at construction."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest

import ollama_nb
from ollama_nb import AsyncReply, ChatRequest, GenerateRequest, Reply, ReplyNotReadError, Session
from ollama_nb.simulator import Simulator


@dataclasses.dataclass
class Person:
    name: str
    age: int


def test_the_body_leaves_out_unset_fields_and_keeps_the_model_first() -> None:
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], think="high", keep_alive="5m")
    body = request.body()
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "keep_alive": "5m",
        "think": "high",
    }
    assert list(body)[:2] == ["model", "messages"]
    assert request.path == "/api/chat"
    assert GenerateRequest(model="m", prompt="p", system="s").body() == {"model": "m", "prompt": "p", "system": "s", "stream": True}


def test_split_separates_request_parameters_from_ollama_options() -> None:
    assert ChatRequest.split({"think": True, "tools": [], "temperature": 0.2, "num_ctx": 8}) == (
        {"think": True, "tools": []},
        {"temperature": 0.2, "num_ctx": 8},
    )
    assert GenerateRequest.split({"system": "s", "images": [b"x"], "seed": 1}) == ({"system": "s", "images": [b"x"]}, {"seed": 1})
    with pytest.raises(TypeError, match="messages"):
        ChatRequest.split({"messages": []})


def test_an_unknown_parameter_of_a_client_call_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="temprature"):
        ollama_nb.Client().chat("m", [], temprature=0.2)


#: A value for every parameter the two requests share; a new field must be added here (the test
#: below checks it), and is then proven to reach the wire from every caller with no other change.
SHARED_SAMPLES: dict[str, Any] = {
    "format": "json",
    "keep_alive": "7m",
    "options": {"seed": 3},
    "think": "max",
    "truncate": False,
    "shift": False,
    "logprobs": True,
    "top_logprobs": 2,
}


def test_the_samples_cover_every_shared_request_parameter() -> None:
    shared = ChatRequest.parameter_names() & GenerateRequest.parameter_names()
    assert set(SHARED_SAMPLES) == shared


@pytest.mark.parametrize("endpoint", ["chat", "generate"])
def test_every_request_field_reaches_the_wire_from_the_client_and_the_session(simulator: Simulator, endpoint: str) -> None:
    """Adding a field to the request is all it takes: Client, AsyncClient and Session pass it on by name."""
    values = dict(SHARED_SAMPLES)
    session_values = {k: v for k, v in values.items() if k != "options"}  # Session takes options as keywords
    client = ollama_nb.Client(simulator.url)
    session = Session(model="qwen3", host=simulator.url)

    async def via_async_client() -> None:
        async with ollama_nb.AsyncClient(simulator.url) as aclient:
            if endpoint == "chat":
                await (await aclient.chat("qwen3", [{"role": "user", "content": "x"}], **values)).aread()
            else:
                await (await aclient.generate("qwen3", "x", **values)).aread()

    if endpoint == "chat":
        client.chat("qwen3", [{"role": "user", "content": "x"}], **values).read()
        session.chat("x", **session_values, seed=3).read()
    else:
        client.generate("qwen3", "x", **values).read()
        session.generate("x", **session_values, seed=3).read()
    asyncio.run(via_async_client())
    sent = [r.body for r in simulator.requests if r.path == f"/api/{endpoint}"]
    assert len(sent) == 3
    for body in sent:
        assert body is not None
        assert {name: body[name] for name in values} == values


def test_session_chat_normalises_a_dataclass_format_in_plain_python(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    reply = session.chat("Who?", format=Person)
    reply.read()
    body = simulator.requests[-1].body
    assert body is not None and body["format"]["type"] == "object"
    assert body["format"]["properties"] == {"name": {"type": "string"}, "age": {"type": "integer"}}
    assert reply.body["format"] == body["format"]


def test_reply_body_is_the_wire_body_sent_and_request_the_object_it_came_from(simulator: Simulator) -> None:
    reply = ollama_nb.Client(simulator.url).generate("llama3.2", "hello", options={"seed": 1})
    reply.read()
    assert reply.body == simulator.requests[-1].body
    assert isinstance(reply.request, ollama_nb.GenerateRequest) and reply.request.body() == reply.body


def test_a_reply_opens_its_stream_with_the_opener_it_was_given(simulator: Simulator) -> None:
    """The seam: any callable that sends the body and returns a streaming response will do."""
    opened: list[dict[str, Any]] = []
    with httpx.Client(base_url=simulator.url) as http:

        def opener(body: dict[str, Any], before_send: Any) -> httpx.Response:
            before_send()
            opened.append(body)
            return http.send(http.build_request("POST", "/api/generate", json=body), stream=True)

        request = GenerateRequest(model="llama3.2", prompt="hi [[tokens=3]]")
        reply = Reply(request, opener=opener, host=simulator.url)
        assert opened == []  # lazy: nothing is sent before the first read
        text = reply.read()
    assert opened == [request.body()] and text and reply.timing.ttft_s is not None


def test_a_stop_before_the_first_read_never_calls_the_opener() -> None:
    calls: list[int] = []

    def opener(body: dict[str, Any], before_send: Any) -> httpx.Response:
        calls.append(1)
        raise AssertionError("must not be called")

    reply = Reply(GenerateRequest(model="m", prompt="p"), opener=opener, host="http://127.0.0.1:9")
    reply.stop()
    assert reply.read() == "" and reply.stopped and calls == []


def test_async_reply_text_before_the_end_raises_and_partial_text_does_not(simulator: Simulator) -> None:
    async def main() -> tuple[str, str]:
        async with ollama_nb.AsyncClient(simulator.url) as client:
            reply: AsyncReply = await client.generate("llama3.2", "x [[tokens=4]]")
            with pytest.raises(ReplyNotReadError, match="aread"):
                reply.text
            partial = ""
            async for chunk in reply:
                with pytest.raises(ReplyNotReadError):
                    reply.text
                partial = reply.partial_text()
                break
            await reply.aclose()
            done = await client.generate("llama3.2", "x [[tokens=4]]")
            await done.aread()
            return partial, done.text

    partial, text = asyncio.run(main())
    assert partial and text.startswith(partial)


def test_session_keeps_one_async_client_per_loop_and_drops_a_closed_loops_client(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url)

    async def client_of_this_loop() -> Any:
        first = session.aclient
        assert session.aclient is first
        await (await session.achat("hi")).aread()
        return first

    first = asyncio.run(client_of_this_loop())
    second = asyncio.run(client_of_this_loop())
    assert second is not first  # the first loop is closed: its client is never handed back


def test_use_host_closes_the_clients_it_drops(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    old = session.client
    session.chat("hi").read()
    loop = asyncio.new_event_loop()
    try:
        old_async = loop.run_until_complete(_aclient_of(session))
        session.use_host("127.0.0.1:9")
        assert old.is_closed and old_async.is_closed
        assert session.client is not old and session.host == "http://127.0.0.1:9"
    finally:
        loop.close()


async def _aclient_of(session: Session) -> Any:
    return session.aclient


def test_a_chunk_without_a_line_has_an_empty_raw_that_cannot_be_changed() -> None:
    first, second = ollama_nb.Chunk(), ollama_nb.Chunk()
    assert first.raw == {} and second.raw == {}
    with pytest.raises(TypeError):
        first.raw["x"] = 1  # type: ignore[index]  # one shared default that nobody can change


def test_interrupted_is_in_the_documented_tree_and_the_view_reexports_it() -> None:
    from ollama_nb import _errors, view

    assert issubclass(ollama_nb.Interrupted, ollama_nb.OllamaError) and view.Interrupted is ollama_nb.Interrupted
    assert "Interrupted" in (_errors.__doc__ or "") and "ReplyNotReadError" in (_errors.__doc__ or "")
