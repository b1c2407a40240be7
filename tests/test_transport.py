"""The HTTP transport under the clients: choosing it, and every stream guarantee on each one.

AsyncClient reads with aiohttp's parser by default and with httpx's own (h11) on request; each
test below that takes ``async_transport`` runs on both, over real sockets (the simulator, or raw
sockets on 127.0.0.1 for servers that misbehave in ways the simulator does not).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import threading
import warnings
from typing import Any, Callable, Iterator

import httpx
import pytest

from ollama_nb import (
    AsyncClient,
    Client,
    ConnectionLostError,
    MalformedLineWarning,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    StreamError,
)
from ollama_nb.simulator import Simulator

pytestmark = pytest.mark.timeout(60)

UTF8_REPLY = (
    "*(simulated reply)* Grüße naïvé café 日本語 テキスト 🙂 🚀 Ελληνικά Русский — €5 ñandú 中文 ✓"
)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_short(exc: BaseException, *required: str) -> None:
    text = str(exc)
    assert 1 <= len(text.splitlines()) <= 3, text
    for needle in required:
        assert needle in text, f"{needle!r} not in {text!r}"


# -- choosing the transport ------------------------------------------------------------------------


def test_async_client_reads_with_aiohttp_and_the_blocking_client_with_urllib3_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OLLAMA_NB_TRANSPORT", raising=False)
    assert AsyncClient("127.0.0.1:1").transport == "aiohttp"
    assert Client("127.0.0.1:1").transport == "urllib3"


def test_the_environment_variable_sets_the_default_and_transport_overrides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_NB_TRANSPORT", "h11")
    assert AsyncClient("127.0.0.1:1").transport == "h11"
    assert AsyncClient("127.0.0.1:1", transport="aiohttp").transport == "aiohttp"
    assert Client("127.0.0.1:1").transport == "h11"
    assert Client("127.0.0.1:1", transport="urllib3").transport == "urllib3"
    monkeypatch.setenv("OLLAMA_NB_TRANSPORT", "aiohttp")  # an async-only name: auto for the blocking client
    assert Client("127.0.0.1:1").transport == "urllib3"
    assert AsyncClient("127.0.0.1:1", transport="auto").transport == "aiohttp"


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: AsyncClient("127.0.0.1:1", transport="curl"), "unknown HTTP transport transport='curl'"),
        (lambda: AsyncClient("127.0.0.1:1", transport="urllib3"), "AsyncClient cannot read with transport='urllib3'"),
        (lambda: Client("127.0.0.1:1", transport="aiohttp"), "Client cannot read with transport='aiohttp'"),
        (lambda: Client("127.0.0.1:1", transport=httpx.AsyncHTTPTransport()), "httpx.BaseTransport"),
        (lambda: Client("127.0.0.1:1", transport=42), "Client takes a transport name or an httpx.BaseTransport"),
        (lambda: AsyncClient("127.0.0.1:1", transport=httpx.HTTPTransport()), "httpx.AsyncBaseTransport"),
    ],
)
def test_a_transport_a_client_cannot_use_is_one_short_error(make: Callable[[], Any], needle: str) -> None:
    with pytest.raises(OllamaError) as info:
        make()
    assert_short(info.value, needle)


def test_an_unknown_name_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_NB_TRANSPORT", "pycurl")
    with pytest.raises(OllamaError) as info:
        AsyncClient("127.0.0.1:1")
    assert_short(info.value, "OLLAMA_NB_TRANSPORT='pycurl'", "aiohttp, h11")


def test_the_clients_take_explicit_settings_not_arbitrary_keywords() -> None:
    for cls in (Client, AsyncClient):
        parameters = inspect.signature(cls).parameters
        assert {"host", "timeout", "connect_timeout", "retries", "backoff", "headers", "transport"} <= set(parameters)
        assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    with pytest.raises(TypeError):
        Client("127.0.0.1:1", timout=3)  # type: ignore[call-arg]


def test_aiohttp_is_imported_when_an_async_client_needs_it_not_with_the_package() -> None:
    code = (
        "import sys, ollama_nb\n"
        "ollama_nb.Client('127.0.0.1:1'); ollama_nb.Session(host='127.0.0.1:1')\n"
        "before = 'aiohttp' in sys.modules\n"
        "ollama_nb.AsyncClient('127.0.0.1:1')\n"
        "print(before, 'aiohttp' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OLLAMA_NB_TRANSPORT"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env)
    assert done.stdout.split() == ["False", "True"]


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


STREAM = ndjson(
    {"message": {"role": "assistant", "content": "Hel"}, "done": False},
    {"message": {"role": "assistant", "content": "lo"}, "done": False},
    {"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop", "eval_count": 2},
)


def test_a_transport_object_is_passed_to_httpx_as_it_is() -> None:
    # a pure parser check on httpx.MockTransport: the wire itself is tested on real sockets below
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, stream=httpx.ByteStream(STREAM))

    with Client("127.0.0.1:9", transport=httpx.MockTransport(answer)) as client:
        assert client.transport == "MockTransport"
        assert client.chat("llama3.2", user("hi")).text == "Hello"

    async def asynchronously() -> str:
        async with AsyncClient("127.0.0.1:9", transport=httpx.MockTransport(answer)) as client:
            return await (await client.chat("llama3.2", user("hi"))).aread()

    assert run(asynchronously()) == "Hello"
    assert [r.url.path for r in seen] == ["/api/chat", "/api/chat"]
    assert json.loads(seen[1].content)["messages"] == user("hi")


# -- the stream on each transport -----------------------------------------------------------------


async def chunks_of(client: AsyncClient, prompt: str, *, endpoint: str = "chat") -> tuple[Any, list[str]]:
    reply = await (client.chat("llama3.2", user(prompt)) if endpoint == "chat" else client.generate("llama3.2", prompt))
    received = []
    async for chunk in reply:
        if not chunk.done:
            received.append(chunk.content)
    return reply, received


def read_chat(host: str, prompt: str, received: list[str], **settings: Any) -> None:
    """Read a chat reply with a new AsyncClient, each chunk's content into ``received`` as it comes."""

    async def main() -> None:
        async with AsyncClient(host, **settings) as client:
            reply = await client.chat("llama3.2", user(prompt))
            async for chunk in reply:
                received.append(chunk.content)

    run(main())


def whole_text(sim: Simulator, endpoint: str, body: dict[str, Any]) -> str:
    answer = httpx.post(f"{sim.url}/api/{endpoint}", json={**body, "stream": False}, timeout=60).json()
    return str(answer["message"]["content"] if endpoint == "chat" else answer["response"])


def test_the_client_says_which_transport_it_reads_with(simulator: Simulator, async_transport: str) -> None:
    async def main() -> str:
        async with AsyncClient(simulator.url) as client:
            assert client.transport == async_transport
            return await client.version()

    assert run(main()) == httpx.get(f"{simulator.url}/api/version", timeout=10).json()["version"]


@pytest.mark.parametrize("endpoint", ["chat", "generate"])
def test_utf8_split_inside_a_character_decodes_exactly(
    simulator: Simulator, async_transport: str, endpoint: str
) -> None:
    prompt = "hi [[utf8]] [[tokens=60]]"

    async def main() -> str:
        async with AsyncClient(simulator.url) as client:
            reply, _ = await chunks_of(client, prompt, endpoint=endpoint)
            return str(reply.text)

    text = run(main())
    body: dict[str, Any] = {"model": "llama3.2"}
    body.update({"messages": user(prompt)} if endpoint == "chat" else {"prompt": prompt})
    assert text.startswith(UTF8_REPLY) and "\ufffd" not in text
    assert text == whole_text(simulator, endpoint, body)


def test_a_malformed_line_is_skipped_with_a_warning_and_counted(simulator: Simulator, async_transport: str) -> None:
    async def main() -> tuple[Any, list[str]]:
        async with AsyncClient(simulator.url) as client:
            return await chunks_of(client, "hi [[tokens=5]] [[malformed]]")

    with pytest.warns(MalformedLineWarning, match="malformed"):
        reply, received = run(main())
    assert reply.malformed_lines == 1 and len(received) == 5
    assert reply.done_reason == "stop" and reply.error is None


def test_an_error_mid_stream_comes_after_every_token_before_it(simulator: Simulator, async_transport: str) -> None:
    # at full speed the three tokens and the error line arrive in one read on aiohttp
    received: list[str] = []
    with pytest.raises(StreamError) as info:
        read_chat(simulator.url, "fail soon [[error-after=3]]", received)
    assert len(received) == 3
    assert info.value.reply is not None and info.value.reply.partial_text() == "".join(received) != ""


def test_a_connection_dropped_mid_stream_keeps_the_text_and_is_not_retried(
    simulator: Simulator, async_transport: str
) -> None:
    received: list[str] = []
    with pytest.raises(ConnectionLostError) as info:
        read_chat(simulator.url, "hi [[tokens=10]] [[drop-after=4]]", received, retries=5, backoff=0.0)
    assert len(received) == 4
    assert info.value.reply is not None and info.value.reply.partial_text() == "".join(received)
    assert_short(info.value, simulator.url, "characters kept")
    assert simulator.wait_for("drop").lines_sent == 4
    assert len(simulator.requests) == 1


def test_a_silent_stream_times_out_and_closes_the_connection(simulator: Simulator, async_transport: str) -> None:
    async def main() -> None:
        async with AsyncClient(simulator.url, timeout=0.2, backoff=0.0) as client:
            await chunks_of(client, "hi [[tokens=5]] [[delay=3]]")

    with pytest.raises(OllamaTimeoutError) as info:
        run(main())
    assert info.value.seconds == 0.2 and info.value.reply is not None and info.value.reply.partial_text()
    assert_short(info.value, simulator.url, "0.2 s")
    assert simulator.wait_for("disconnect", timeout=5).lines_sent == 1


def test_connections_dropped_before_the_first_byte_are_retried(simulator: Simulator, async_transport: str) -> None:
    simulator.drop_next_connections(2)

    async def main() -> list[str]:
        async with AsyncClient(simulator.url, retries=2, backoff=0.0) as client:
            return (await chunks_of(client, "hi [[tokens=3]]"))[1]

    assert len(run(main())) == 3
    assert len(simulator.requests) == 1
    assert [e.kind for e in simulator.events].count("drop") == 2


def test_without_retries_a_connection_closed_before_answering_says_so(
    simulator: Simulator, async_transport: str
) -> None:
    simulator.drop_next_connections(1)

    async def main() -> None:
        async with AsyncClient(simulator.url, retries=0) as client:
            await chunks_of(client, "hi")

    with pytest.raises(OllamaConnectionError) as info:
        run(main())
    assert_short(info.value, simulator.url, "closed the connection without answering")


def test_a_server_that_is_down_is_a_refused_connection(async_transport: str) -> None:
    host = f"http://127.0.0.1:{free_port()}"

    async def main() -> None:
        async with AsyncClient(host, retries=1, backoff=0.0) as client:
            await client.version()

    with pytest.raises(OllamaConnectionError) as info:
        run(main())
    assert_short(info.value, host, "connection refused")


def test_the_client_stays_usable_after_a_stop_a_drop_an_error_and_a_timeout(
    simulator: Simulator, async_transport: str
) -> None:
    async def main() -> None:
        async with AsyncClient(simulator.url, retries=0, timeout=0.3) as client:
            stopped = await client.chat("llama3.2", user("a [[tokens=100]] [[delay=0.1]]"))
            async for _ in stopped:
                stopped.stop()
            assert stopped.stopped
            assert (await chunks_of(client, "b [[tokens=2]]"))[1]
            with pytest.raises(ConnectionLostError):
                await chunks_of(client, "c [[tokens=9]] [[drop-after=2]]")
            assert (await chunks_of(client, "d [[tokens=2]]"))[1]
            with pytest.raises(StreamError):
                await chunks_of(client, "e [[tokens=9]] [[error-after=2]]")
            assert (await chunks_of(client, "f [[tokens=2]]"))[1]
            with pytest.raises(OllamaTimeoutError):
                await chunks_of(client, "g [[tokens=3]] [[delay=2]]")
            assert await client.version()

    run(main())
    assert len(simulator.requests) == 8


def test_fifty_thousand_tokens_stream_fully(simulator: Simulator, async_transport: str) -> None:
    prompt = "hi [[tokens=50000]]"

    async def main() -> tuple[Any, list[str]]:
        async with AsyncClient(simulator.url) as client:
            return await chunks_of(client, prompt, endpoint="generate")

    reply, received = run(main())
    assert len(received) == 50_000 == reply.timing.output_tokens
    assert "".join(received) == whole_text(simulator, "generate", {"model": "llama3.2", "prompt": prompt})


def test_stop_from_another_thread_closes_the_socket_at_once(simulator: Simulator, async_transport: str) -> None:
    async def main() -> Any:
        async with AsyncClient(simulator.url) as client:
            reply = await client.chat("llama3.2", user("hi [[tokens=500]] [[delay=0.05]]"))
            async for chunk in reply:
                if chunk.content:
                    # from a thread, while the reader waits for the next line: the socket is shut at once
                    threading.Timer(0.01, reply.stop).start()
            return reply

    reply = run(main())
    assert reply.stopped and reply.partial_text()
    assert 0 < simulator.wait_for("disconnect", timeout=5).lines_sent < 500


# -- servers that misbehave (raw sockets on 127.0.0.1) ----------------------------------------------


class RawServer:
    """Accepts connections on 127.0.0.1, reads one request, sends ``answer`` bytes and closes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                received = b""
                while b"\r\n\r\n" not in received:
                    data = conn.recv(65536)
                    if not data:
                        break
                    received += data
                # Read the whole body too: a socket closed with unread bytes sends a reset, which
                # the client may see before or after the answer (a race, not the server's answer).
                head, _, body = received.partition(b"\r\n\r\n")
                match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                while match and len(body) < int(match.group(1)):
                    data = conn.recv(65536)
                    if not data:
                        break
                    body += data
                conn.sendall(self.answer)

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[bytes], RawServer]]:
    servers: list[RawServer] = []

    def start(answer: bytes) -> RawServer:
        servers.append(RawServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
LINE = b'{"message":{"role":"assistant","content":"Hi"},"done":false}\n'


@pytest.mark.parametrize(
    ("answer", "error", "needle"),
    [
        (b"", OllamaConnectionError, "closed the connection without answering"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", OllamaConnectionError, "Ollama is not answering"),
        (b"HTTP/1.1 200 OK\r\nContent-Ty", OllamaConnectionError, "Ollama is not answering"),
        (HEAD + chunked(LINE), ConnectionLostError, "characters kept"),
        # aiohttp parses all that arrived at once, so the bad size can fail the answer as a whole
        (HEAD + chunked(LINE) + b"zz\r\n", (ConnectionLostError, OllamaConnectionError), "127.0.0.1"),
    ],
    ids=["closes-at-once", "not-http", "cut-in-the-headers", "cut-mid-body", "bad-chunk-size"],
)
def test_a_misbehaving_server_is_one_short_error_of_the_tree(
    raw_server: Callable[[bytes], RawServer], async_transport: str, answer: bytes, error: Any, needle: str
) -> None:
    server = raw_server(answer)
    received: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Unclosed ..." ResourceWarning either
        with pytest.raises(error) as info:
            read_chat(server.url, "hi", received, retries=1, backoff=0.0)
    assert_short(info.value, server.url, needle)
    if isinstance(info.value, ConnectionLostError):
        assert received == ["Hi"] and server.accepted == 1  # nothing is retried once a token arrived
    else:
        assert received == [] and server.accepted == 2  # retried once before the first byte


@pytest.mark.parametrize(
    ("answer", "error", "needle"),
    [
        (b"", OllamaConnectionError, "closed the connection without answering"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", OllamaConnectionError, "Ollama is not answering"),
        # urllib3 (http.client) takes a cut header block as a whole one and the body as cut
        (b"HTTP/1.1 200 OK\r\nContent-Ty", (OllamaConnectionError, ConnectionLostError), "127.0.0.1"),
        (HEAD + chunked(LINE), ConnectionLostError, "characters kept"),
        (HEAD + chunked(LINE) + b"zz\r\n", ConnectionLostError, "characters kept"),
    ],
    ids=["closes-at-once", "not-http", "cut-in-the-headers", "cut-mid-body", "bad-chunk-size"],
)
def test_a_misbehaving_server_is_one_short_error_for_the_blocking_client_too(
    raw_server: Callable[[bytes], RawServer], sync_transport: str, answer: bytes, error: Any, needle: str
) -> None:
    server = raw_server(answer)
    received: list[str] = []
    with Client(server.url, retries=1, backoff=0.0) as client:
        assert client.transport == sync_transport
        with pytest.raises(error) as info:
            for chunk in client.chat("llama3.2", user("hi")):
                received.append(chunk.content)
    assert_short(info.value, server.url, needle)
    if error is ConnectionLostError:
        assert received == ["Hi"] and server.accepted == 1
    else:  # nothing is retried once an answer started
        assert received == [] and server.accepted == (1 if isinstance(info.value, ConnectionLostError) else 2)


def test_the_blocking_client_reports_a_server_that_is_down(sync_transport: str) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(OllamaConnectionError) as info:
        Client(host, retries=1, backoff=0.0).version()
    assert_short(info.value, host, "connection refused")


def test_an_async_client_dropped_unclosed_closes_its_connections_without_a_report(simulator: Simulator) -> None:
    # aiohttp reports an unclosed session to the loop's exception handler (stderr, so the notebook)
    reported: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: reported.append(context["message"]))
        client = AsyncClient(simulator.url, transport="aiohttp")
        assert await client.version()
        del client
        gc.collect()
        await asyncio.sleep(0)

    run(main())
    assert reported == []
