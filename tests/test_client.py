"""Client and AsyncClient over a real socket (the simulator on 127.0.0.1): requests, failures,
retries, timeouts, huge output and the model endpoints.

Replies themselves (chunks, timing, stopping) are in test_reply.py.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Iterator

import httpx
import pytest

from ollama_nb import (
    AsyncClient,
    AsyncReply,
    Client,
    ConnectionLostError,
    MalformedLineWarning,
    ModelDetails,
    ModelNotFoundError,
    ModelSummary,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    PullProgress,
    Reply,
    ResponseError,
    ServerBusyError,
    RunningModel,
    StreamError,
)
from ollama_nb.simulator import Simulator

pytestmark = pytest.mark.timeout(30)

RUNNER_STOPPED = (
    "model runner has unexpectedly stopped, this may be due to resource limitations or an "
    "internal error, check ollama server logs for details"
)
UTF8_REPLY = (
    "*(simulated reply)* Grüße naïvé café 日本語 テキスト 🙂 🚀 Ελληνικά Русский — €5 ñandú 中文 ✓"
)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def assert_short_message(exc: BaseException, *required: str) -> None:
    """The message a user sees: one to three lines, naming what it must name."""
    text = str(exc)
    assert 1 <= len(text.splitlines()) <= 3, text
    for needle in required:
        assert needle in text, f"{needle!r} not in {text!r}"


def free_port() -> int:
    """A port with nothing listening (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def whole_text(sim: Simulator, endpoint: str, body: dict[str, Any]) -> str:
    """The same reply fetched with stream=false: one JSON body, no streaming involved."""
    answer = httpx.post(f"{sim.url}/api/{endpoint}", json={**body, "stream": False}, timeout=60).json()
    return answer["message"]["content"] if endpoint == "chat" else answer["response"]


@pytest.fixture
def client(simulator: Simulator) -> Iterator[Client]:
    with Client(simulator.url, backoff=0.0) as c:
        yield c


@pytest.fixture
def quick_pull_simulator() -> Iterator[Simulator]:
    with Simulator(pull_seconds=0) as sim:
        yield sim


# -- streaming chat / generate ------------------------------------------------------------


def test_chat_streams_chunks_and_returns_a_reply(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user("Why is the sky blue? [[tokens=6]]"))
    assert isinstance(reply, Reply)
    chunks = list(reply)
    assert [c.done for c in chunks] == [False] * 6 + [True]
    assert "".join(c.content for c in chunks) == reply.text
    assert reply.text.startswith("*(simulated reply)*")
    (request,) = simulator.requests
    assert (request.method, request.path) == ("POST", "/api/chat")
    assert request.body == {"model": "llama3.2", "messages": user("Why is the sky blue? [[tokens=6]]"), "stream": True}


def test_generate_streams_chunks_and_returns_a_reply(simulator: Simulator, client: Client) -> None:
    reply = client.generate("llama3.2", "hi [[tokens=4]]", system="Be brief.")
    chunks = list(reply)
    assert len(chunks) == 5 and chunks[-1].done
    assert "".join(c.content for c in chunks) == reply.text != ""
    (request,) = simulator.requests
    assert request.path == "/api/generate"
    assert request.body == {"model": "llama3.2", "prompt": "hi [[tokens=4]]", "stream": True, "system": "Be brief."}


def test_nothing_is_sent_until_the_reply_is_read(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=2]]"))
    client.generate("llama3.2", "never read")
    assert simulator.requests == []
    assert reply.text
    assert len(simulator.requests) == 1


def test_options_think_format_and_keep_alive_reach_the_server(simulator: Simulator, client: Client) -> None:
    reply = client.chat(
        "qwen3", user("hi [[tokens=2]]"), options={"seed": 7, "temperature": 0.1}, think=True, format="json", keep_alive="5m"
    )
    reply.read()
    body = simulator.requests[0].body
    assert body is not None
    assert body["options"] == {"seed": 7, "temperature": 0.1}
    assert (body["think"], body["format"], body["keep_alive"]) == (True, "json", "5m")
    assert reply.thinking  # the thinking model thought


def test_a_client_repr_names_its_host(simulator: Simulator, client: Client) -> None:
    assert repr(client) == f"Client({simulator.url!r})"


# -- failures --------------------------------------------------------------------------------


def test_server_down_raises_a_short_connection_error_naming_the_host() -> None:
    port = free_port()
    with Client(f"127.0.0.1:{port}", backoff=0.0) as client:
        reply = client.chat("llama3.2", user("hi"))
        with pytest.raises(OllamaConnectionError) as info:
            reply.read()
    assert_short_message(info.value, f"http://127.0.0.1:{port}", "ollama serve")
    assert isinstance(info.value, ConnectionError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.reply is reply and reply.error is info.value
    assert reply.done and not reply.stopped and reply.text == ""


def test_server_down_fails_the_model_endpoints_too() -> None:
    port = free_port()
    with Client(f"127.0.0.1:{port}", backoff=0.0) as client:
        for call in (client.models, client.ps, client.version, lambda: client.show("llama3.2")):
            with pytest.raises(OllamaConnectionError) as info:
                call()
            assert_short_message(info.value, f"127.0.0.1:{port}")


def test_unknown_model_raises_model_not_found_naming_the_model_and_ollama_pull(client: Client) -> None:
    reply = client.chat("missing-model", user("hi"))
    with pytest.raises(ModelNotFoundError) as info:
        reply.read()
    exc = info.value
    assert_short_message(exc, "missing-model", "ollama pull missing-model", client.host)
    assert exc.status_code == 404 and exc.model == "missing-model"
    assert exc.error == "model 'missing-model' not found"  # the server's own text is kept
    assert isinstance(exc, ResponseError)
    assert reply.error is exc and reply.text == ""


def test_unknown_model_in_generate_and_show_raises_model_not_found(client: Client) -> None:
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        client.generate("no-such-model", "hi").read()
    with pytest.raises(ModelNotFoundError, match="ollama pull missing-x"):
        client.show("missing-x")


def test_http_error_status_raises_response_error_with_the_servers_text(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[status=500]]"))
    with pytest.raises(ResponseError) as info:
        reply.read()
    exc = info.value
    assert_short_message(exc, "500", RUNNER_STOPPED)
    assert (exc.status_code, exc.error) == (500, RUNNER_STOPPED)
    assert not isinstance(exc, ModelNotFoundError)
    assert reply.error is exc


def test_a_busy_server_is_retried_then_reported_in_one_line(simulator: Simulator) -> None:
    with Client(simulator.url, retries=2, backoff=0.0) as client:
        with pytest.raises(ServerBusyError) as info:
            client.generate("llama3.2", "hi [[status=503]]").read()
    assert info.value.status_code == 503 and info.value.attempts == 3
    assert len([r for r in simulator.requests if r.path == "/api/generate"]) == 3  # counted at the server
    assert_short_message(info.value, "is busy (503: server busy", "still after 3 tries", "Wait a moment")


def test_think_on_a_model_that_cannot_think_says_what_to_do(client: Client) -> None:
    with pytest.raises(ResponseError) as info:
        client.chat("llama3.2", user("hi"), think=True).read()
    assert info.value.status_code == 400
    assert_short_message(info.value, '"llama3.2" does not support thinking', "think=")


def test_an_http_error_status_message_names_the_host(client: Client) -> None:
    with pytest.raises(ResponseError) as info:
        client.chat("llama3.2", user("hi [[status=500]]")).read()
    assert str(info.value).splitlines()[0].startswith(f"Ollama at {client.host} answered 500: ")


def test_an_in_band_error_message_names_the_model_and_the_host(client: Client) -> None:
    with pytest.raises(StreamError) as info:
        client.chat("llama3.2", user("hi [[error-after=2]]")).read()
    assert str(info.value).splitlines()[0].startswith(f"Ollama (llama3.2 at {client.host}) stopped with an error")


@pytest.mark.usefixtures("sync_transport")
def test_in_band_error_mid_stream_raises_stream_error_after_keeping_the_partial_text(
    simulator: Simulator, client: Client
) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=10]] [[error-after=3]]"))
    received: list[str] = []
    with pytest.raises(StreamError) as info:
        for chunk in reply:
            received.append(chunk.content)
    exc = info.value
    assert not isinstance(exc, ConnectionLostError)
    assert len(received) == 3
    assert exc.reply is reply and reply.error is exc
    assert exc.reply.text == "".join(received) != ""
    assert exc.error == RUNNER_STOPPED
    assert_short_message(exc, RUNNER_STOPPED, f"{len(reply.text)} characters (kept)")
    assert reply.done and not reply.stopped and reply.done_reason is None
    assert len(simulator.requests) == 1  # an in-band error is not retried


def test_error_before_the_first_token_is_an_http_error_status(client: Client) -> None:
    with pytest.raises(ResponseError) as info:
        client.chat("llama3.2", user("hi [[error-after=0]]")).read()
    assert info.value.status_code == 500


@pytest.mark.usefixtures("sync_transport")
def test_connection_dropped_before_done_raises_connection_lost_and_keeps_the_partial_text(
    simulator: Simulator,
) -> None:
    with Client(simulator.url, retries=5, backoff=0.0) as client:
        reply = client.chat("llama3.2", user("hi [[tokens=10]] [[drop-after=4]]"))
        received: list[str] = []
        with pytest.raises(ConnectionLostError) as info:
            for chunk in reply:
                received.append(chunk.content)
    exc = info.value
    assert len(received) == 4
    assert exc.reply is reply and reply.text == "".join(received) != ""
    assert_short_message(exc, client.host, f"{len(reply.text)} characters kept")
    assert isinstance(exc, StreamError) and not reply.stopped
    assert simulator.wait_for("drop").lines_sent == 4
    assert len(simulator.requests) == 1  # nothing is retried once a token arrived


@pytest.mark.usefixtures("sync_transport")
def test_a_malformed_line_is_skipped_with_a_warning_and_counted(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=5]] [[malformed]]"))
    with pytest.warns(MalformedLineWarning, match="malformed"):
        chunks = list(reply)
    assert reply.malformed_lines == 1
    assert len([c for c in chunks if not c.done]) == 5  # the stream went on after the bad line
    assert chunks[-1].done and reply.done_reason == "stop" and reply.error is None
    assert reply.timing.output_tokens == 5


@pytest.mark.usefixtures("sync_transport")
def test_utf8_split_across_network_writes_decodes_exactly(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[utf8]]"))
    assert reply.text == UTF8_REPLY
    assert "\ufffd" not in reply.text
    assert reply.text == whole_text(simulator, "chat", {"model": "llama3.2", "messages": user("hi [[utf8]]")})


@pytest.mark.usefixtures("sync_transport")
def test_utf8_split_decodes_exactly_in_generate_too(simulator: Simulator, client: Client) -> None:
    text = client.generate("llama3.2", "hi [[utf8]] [[tokens=60]]").text
    assert text == whole_text(simulator, "generate", {"model": "llama3.2", "prompt": "hi [[utf8]] [[tokens=60]]"})
    assert text.startswith(UTF8_REPLY)


def test_a_wrong_path_gets_a_404_that_asks_whether_this_is_ollama(simulator: Simulator) -> None:
    with Client(f"{simulator.url}/not-ollama", backoff=0.0) as client:
        with pytest.raises(ResponseError) as info:
            client.chat("llama3.2", user("hi")).read()
    assert not isinstance(info.value, ModelNotFoundError)
    assert info.value.status_code == 404 and info.value.error == "404 page not found"
    assert_short_message(info.value, f"{simulator.url}/not-ollama", "OLLAMA_HOST")


@pytest.mark.usefixtures("sync_transport")
def test_the_client_stays_usable_after_a_stop_a_drop_an_error_and_a_timeout(simulator: Simulator) -> None:
    with Client(simulator.url, retries=0, timeout=0.3) as client:  # no retry may hide a dead connection
        stopped = client.chat("llama3.2", user("a [[tokens=100]] [[delay=0.1]]"))
        for _ in stopped:
            stopped.stop()
        assert client.chat("llama3.2", user("b [[tokens=2]]")).text
        with pytest.raises(ConnectionLostError):
            client.chat("llama3.2", user("c [[tokens=9]] [[drop-after=2]]")).read()
        assert client.chat("llama3.2", user("d [[tokens=2]]")).text
        with pytest.raises(StreamError):
            client.chat("llama3.2", user("e [[tokens=9]] [[error-after=2]]")).read()
        assert client.chat("llama3.2", user("f [[tokens=2]]")).text
        with pytest.raises(OllamaTimeoutError):
            client.chat("llama3.2", user("g [[tokens=3]] [[delay=2]]")).read()
        assert client.version()
    assert len(simulator.requests) == 8


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("sync_transport")
def test_connections_dropped_before_the_first_byte_are_retried(simulator: Simulator) -> None:
    simulator.drop_next_connections(2)
    with Client(simulator.url, retries=2, backoff=0.0) as client:
        reply = client.chat("llama3.2", user("hi [[tokens=3]]"))
        assert reply.text
    assert len(simulator.requests) == 1  # the request arrived exactly once
    assert [e.kind for e in simulator.events].count("drop") == 2
    assert reply.timing.output_tokens == 3


def test_model_endpoints_are_retried_too(simulator: Simulator) -> None:
    simulator.drop_next_connections(1)
    with Client(simulator.url, retries=1, backoff=0.0) as client:
        assert client.version()
    assert [r.path for r in simulator.requests] == ["/api/version"]


@pytest.mark.usefixtures("sync_transport")
def test_without_retries_a_dropped_connection_is_a_connection_error(simulator: Simulator) -> None:
    simulator.drop_next_connections(1)
    with Client(simulator.url, retries=0, backoff=0.0) as client:
        with pytest.raises(OllamaConnectionError) as info:
            client.chat("llama3.2", user("hi")).read()
    assert_short_message(info.value, simulator.url, "closed the connection without answering")
    assert simulator.requests == []


def test_retries_give_up_after_the_last_attempt(simulator: Simulator) -> None:
    simulator.drop_next_connections(3)
    with Client(simulator.url, retries=2, backoff=0.0) as client:
        with pytest.raises(OllamaConnectionError):
            client.generate("llama3.2", "hi").read()
    assert [e.kind for e in simulator.events].count("drop") == 3
    assert simulator.requests == []


def test_negative_retries_mean_no_retry() -> None:
    assert Client("127.0.0.1:1", retries=-3).retries == 0


# -- timeouts --------------------------------------------------------------------------------------


def test_connect_timeout_is_short_and_the_read_timeout_is_configurable() -> None:
    default = Client("127.0.0.1:1")
    assert default.timeout.connect is not None and default.timeout.connect <= 5
    assert default.timeout.read is not None and default.timeout.read >= 60  # a model may be loading
    short = Client("127.0.0.1:1", timeout=0.2)
    assert short.timeout.read == 0.2 and short.timeout.connect == default.timeout.connect
    assert Client("127.0.0.1:1", connect_timeout=0.5).timeout.connect == 0.5


@pytest.mark.usefixtures("sync_transport")
def test_a_silent_stream_raises_a_timeout_error_instead_of_hanging(simulator: Simulator) -> None:
    with Client(simulator.url, timeout=0.2, backoff=0.0) as client:
        reply = client.chat("llama3.2", user("hi [[tokens=5]] [[delay=3]]"))
        with pytest.raises(OllamaTimeoutError) as info:
            reply.read()
    exc = info.value
    assert isinstance(exc, TimeoutError)
    assert_short_message(exc, simulator.url, "0.2 s", "timeout")
    assert exc.seconds == 0.2
    assert exc.reply is reply and reply.text  # the first token arrived before the silence
    assert simulator.wait_for("disconnect", timeout=5).lines_sent == 1
    assert len(simulator.requests) == 1


# -- huge output -----------------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("sync_transport")
def test_fifty_thousand_tokens_stream_fully(simulator: Simulator, client: Client) -> None:
    prompt = "hi [[tokens=50000]]"
    reply = client.generate("llama3.2", prompt)
    chunks = 0
    length = 0
    for chunk in reply:
        chunks += not chunk.done
        length += len(chunk.content)
    assert chunks == 50_000 == reply.output_chunks == reply.timing.output_tokens
    assert len(reply.text) == length
    assert reply.text == whole_text(simulator, "generate", {"model": "llama3.2", "prompt": prompt})
    assert simulator.wait_for("complete").lines_sent == 50_001


# -- model endpoints -----------------------------------------------------------------------------


def test_models_lists_the_servers_models(simulator: Simulator, client: Client) -> None:
    models = client.models()
    assert all(isinstance(m, ModelSummary) for m in models)
    names = [m.name for m in models]
    assert "llama3.2:latest" in names
    llama = models[names.index("llama3.2:latest")]
    assert llama.size > 0 and llama.family == "llama" and llama.parameter_size and llama.raw["digest"]
    assert simulator.requests[-1].path == "/api/tags"


def test_show_gives_the_context_length(client: Client) -> None:
    details = client.show("llama3.2")
    assert isinstance(details, ModelDetails)
    assert details.name == "llama3.2"
    assert details.context_length == 8192
    assert "completion" in details.capabilities
    assert client.show("tiny-ctx512").context_length == 512
    assert "thinking" in client.show("qwen3").capabilities


def test_ps_lists_the_models_loaded_by_a_chat(client: Client) -> None:
    assert client.ps() == []
    client.chat("llama3.2", user("hi [[tokens=1]]"), options={"num_ctx": 2048}).read()
    (running,) = client.ps()
    assert isinstance(running, RunningModel)
    assert running.name == "llama3.2:latest"
    assert running.context_length == 2048
    assert running.size > 0 and running.expires_at


def test_version_is_the_servers_version_string(client: Client) -> None:
    assert client.version() == "0.33.0"


def test_pull_yields_progress_events_ending_with_success(quick_pull_simulator: Simulator) -> None:
    with Client(quick_pull_simulator.url) as client:
        events = list(client.pull("mistral:7b"))
        assert all(isinstance(e, PullProgress) for e in events)
        assert events[0].status == "pulling manifest"
        assert events[-1].success and events[-1].status == "success"
        assert not any(e.success for e in events[:-1])
        fractions = [e.fraction for e in events if e.fraction is not None]
        assert fractions and fractions[-1] == 1.0 and all(0 < f <= 1 for f in fractions)
        assert any(e.digest.startswith("sha256:") for e in events)
        assert "mistral:7b" in [m.name for m in client.models()]
    assert quick_pull_simulator.requests[0].body == {"model": "mistral:7b", "insecure": False, "stream": True}


def test_pull_of_a_missing_name_raises_stream_error_with_the_servers_text(quick_pull_simulator: Simulator) -> None:
    with Client(quick_pull_simulator.url) as client:
        seen: list[str] = []
        with pytest.raises(StreamError) as info:
            for event in client.pull("missing-model"):
                seen.append(event.status)
    assert seen == ["pulling manifest"]
    assert info.value.error == "pull model manifest: file does not exist"
    assert_short_message(info.value, "pull model manifest: file does not exist", "missing-model")


# -- AsyncClient twins ------------------------------------------------------------------------------


def test_async_chat_streams_and_returns_an_async_reply(simulator: Simulator) -> None:
    async def main() -> tuple[AsyncReply, list[Any]]:
        async with AsyncClient(simulator.url) as client:
            reply = await client.chat("llama3.2", user("hi [[tokens=5]]"))
            assert simulator.requests == []  # lazy, like the sync twin
            return reply, [chunk async for chunk in reply]

    reply, chunks = asyncio.run(main())
    assert isinstance(reply, AsyncReply)
    assert len(chunks) == 6 and chunks[-1].done
    assert reply.text == "".join(c.content for c in chunks) != ""
    assert reply.done_reason == "stop" and not reply.stopped
    assert reply.timing.output_tokens == 5
    assert reply.timing.ttft_s is not None and reply.timing.wall_s is not None
    assert 0 < reply.timing.ttft_s <= reply.timing.wall_s
    assert simulator.requests[0].path == "/api/chat"


def test_async_generate_streams_and_aread_returns_the_text(simulator: Simulator) -> None:
    async def main() -> AsyncReply:
        async with AsyncClient(simulator.url) as client:
            reply = await client.generate("llama3.2", "hi [[utf8]]")
            assert await reply.aread() == UTF8_REPLY
            return reply

    reply = asyncio.run(main())
    assert reply.text == UTF8_REPLY and reply.done


def test_async_models_show_ps_version(simulator: Simulator) -> None:
    async def main() -> tuple[Any, ...]:
        async with AsyncClient(simulator.url) as client:
            return await client.models(), await client.show("llama3.2"), await client.ps(), await client.version()

    models, details, running, version = asyncio.run(main())
    assert "llama3.2:latest" in [m.name for m in models]
    assert details.context_length == 8192
    assert running == []
    assert version == "0.33.0"


def test_async_pull_yields_progress_ending_with_success(quick_pull_simulator: Simulator) -> None:
    async def main() -> list[PullProgress]:
        async with AsyncClient(quick_pull_simulator.url) as client:
            return [event async for event in client.pull("gemma3")]

    events = asyncio.run(main())
    assert events[0].status == "pulling manifest" and events[-1].success


def test_async_pull_of_a_missing_name_raises_stream_error(quick_pull_simulator: Simulator) -> None:
    async def main() -> None:
        async with AsyncClient(quick_pull_simulator.url) as client:
            async for _ in client.pull("no-such-model"):
                pass

    with pytest.raises(StreamError, match="file does not exist"):
        asyncio.run(main())


def test_async_failures_map_to_the_same_errors(simulator: Simulator) -> None:
    port = free_port()

    async def main() -> list[type[BaseException]]:
        seen: list[type[BaseException]] = []
        async with AsyncClient(simulator.url, backoff=0.0) as client:
            for model, prompt in (("missing-x", "hi"), ("llama3.2", "hi [[status=500]]"),
                                  ("llama3.2", "hi [[error-after=2]]"), ("llama3.2", "hi [[drop-after=2]]")):
                reply = await client.chat(model, user(prompt))
                try:
                    await reply.aread()
                except OllamaError as exc:
                    assert exc.reply is reply
                    if isinstance(exc, StreamError):
                        assert reply.text  # the partial text is kept
                    seen.append(type(exc))
        async with AsyncClient(f"127.0.0.1:{port}", backoff=0.0) as down:
            try:
                await (await down.chat("llama3.2", user("hi"))).aread()
            except OllamaError as exc:
                seen.append(type(exc))
        return seen

    assert asyncio.run(main()) == [
        ModelNotFoundError, ResponseError, StreamError, ConnectionLostError, OllamaConnectionError,
    ]


def test_async_connections_dropped_before_the_first_byte_are_retried(simulator: Simulator) -> None:
    simulator.drop_next_connections(2)

    async def main() -> str:
        async with AsyncClient(simulator.url, retries=2, backoff=0.0) as client:
            return await (await client.chat("llama3.2", user("hi [[tokens=2]]"))).aread()

    assert asyncio.run(main())
    assert len(simulator.requests) == 1
