"""Replies re-streamed as Server-Sent Events, behind a real uvicorn (FastAPI) and a real werkzeug (Flask).

The apps are the ones in ``examples/``, pointed at the simulator; the browser is httpx. Dropping
the web connection must close the Ollama stream: the simulator records a ``disconnect`` with far
fewer lines sent than the whole reply (400 chunks 0.05 s apart would take 20 s).
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest
from web_apps import parse_events, serve

from ollama_nb import AsyncClient, Chunk, Client, ModelNotFoundError
from ollama_nb.client._sse import delta_event, done_event, error_event, event_bytes
from ollama_nb.simulator import Simulator
from pools import connections_taken

pytestmark = pytest.mark.timeout(60)

#: Mid-stream for seconds: 400 chunks 0.05 s apart.
PACED = "count [[delay=0.05]] [[tokens=400]]"
PACED_TOTAL_LINES = 401
#: Lines 20 s apart: a close that waited for the next line would come far too late.
GAP_SECONDS = 20
GAPPED = f"wait for it [[tokens=3]] [[delay={GAP_SECONDS}]]"
#: Multi-byte text whose lines the simulator writes in two pieces split inside a character.
UTF8 = "say something [[utf8]] [[tokens=30]]"


def fetch_events(base: str, prompt: str) -> tuple[httpx.Response, list[tuple[str, dict[str, Any]]]]:
    response = httpx.get(f"{base}/stream", params={"prompt": prompt}, timeout=30)
    return response, parse_events(response.content)


def expected_text(simulator: Simulator, prompt: str) -> str:
    with Client(simulator.url) as client:
        return client.chat("llama3.2", [{"role": "user", "content": prompt}]).read()


FRAMEWORKS = pytest.mark.parametrize("framework", ["fastapi", "fastapi-sync", "flask"])


# -- through the web servers ----------------------------------------------------------------
@FRAMEWORKS
def test_page_gets_one_event_per_delta_then_done_with_the_exact_text(framework: str, simulator: Simulator) -> None:
    with serve(framework, simulator) as base:
        response, events = fetch_events(base, UTF8)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    kinds = [kind for kind, _ in events]
    assert kinds == ["message"] * 30 + ["done"]
    assert "".join(data["content"] for _, data in events[:-1]) == expected_text(simulator, UTF8)
    assert all(set(data) == {"content"} for _, data in events[:-1])
    done = events[-1][1]
    assert done["done_reason"] == "stop" and done["stopped"] is False
    assert done["timing"]["output_tokens"] == 30 and done["timing"]["estimated"] is False


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_page_serves_the_html_that_renders_text_as_text(framework: str, simulator: Simulator) -> None:
    with serve(framework, simulator) as base:
        page = httpx.get(base + "/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "EventSource" in page.text and "innerHTML" not in page.text


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_the_examples_refuse_a_cross_origin_request_and_serve_their_own_page(
    framework: str, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://my.site")
    with serve(framework, simulator) as base:
        def status(origin: str | None, path: str = "/stream") -> int:
            headers = {"Origin": origin} if origin else {}
            return httpx.get(base + path, params={"prompt": "hi [[tokens=2]]"}, headers=headers, timeout=10).status_code

        assert status("https://evil.example") == 403 and status("https://evil.example", "/") == 403
        assert status("null") == 403  # a sandboxed page or a file:// page
        assert status(None) == 200 and status(base) == 200 and status("https://my.site") == 200
    assert sum(r.path == "/api/chat" for r in simulator.requests) == 3  # refused ones never reached Ollama


def test_the_examples_listen_on_loopback_only() -> None:
    from web_apps import EXAMPLES

    for name in ("fastapi_sse.py", "flask_sse.py"):
        source = (EXAMPLES / name).read_text(encoding="utf-8")
        assert 'host="127.0.0.1"' in source and "0.0.0.0" not in source


@FRAMEWORKS
@pytest.mark.usefixtures("async_transport")
def test_dropping_the_web_connection_closes_the_ollama_stream(framework: str, simulator: Simulator) -> None:
    with serve(framework, simulator) as base, httpx.Client(timeout=30) as web:
        with web.stream("GET", f"{base}/stream", params={"prompt": PACED}) as response:
            seen = 0
            for line in response.iter_lines():
                seen += line.startswith("data: ")
                if seen == 3:
                    break
        # leaving the block closed the web connection (a pooled connection mid-body is closed)
        disconnect = simulator.wait_for("disconnect", timeout=10)
    assert disconnect.path == "/api/chat"
    assert 3 <= disconnect.lines_sent < PACED_TOTAL_LINES // 2
    assert [e.kind for e in simulator.events if e.kind == "complete"] == []


@pytest.mark.parametrize("framework", ["fastapi", "fastapi-sync"])
@pytest.mark.usefixtures("async_transport")
def test_behind_fastapi_a_page_closed_while_ollama_is_silent_closes_the_stream_without_waiting(
    framework: str, simulator: Simulator
) -> None:
    """Uvicorn reports the disconnect by itself, so the close does not wait for Ollama's next line."""
    with serve(framework, simulator) as base, httpx.Client(timeout=30) as web:
        with web.stream("GET", f"{base}/stream", params={"prompt": GAPPED}) as response:
            first = next(response.iter_lines())
        disconnect = simulator.wait_for("disconnect", timeout=GAP_SECONDS / 2)
    assert first.startswith("data: ")
    assert disconnect.lines_sent == 1


@FRAMEWORKS
@pytest.mark.usefixtures("async_transport")
def test_in_band_error_becomes_the_last_event(framework: str, simulator: Simulator) -> None:
    with serve(framework, simulator) as base:
        _, events = fetch_events(base, "fail soon [[error-after=3]]")
    assert [kind for kind, _ in events] == ["message"] * 3 + ["error"]
    error = events[-1][1]
    assert error["type"] == "StreamError"
    assert "model runner has unexpectedly stopped" in error["error"]


@FRAMEWORKS
def test_missing_model_is_a_single_error_event(framework: str, simulator: Simulator) -> None:
    with serve(framework, simulator, model="missing-model") as base:
        response, events = fetch_events(base, "hello")
    assert response.status_code == 200  # the headers went out before Ollama answered
    assert [kind for kind, _ in events] == ["error"]
    assert events[0][1]["type"] == "ModelNotFoundError"
    assert events[0][1]["error"].startswith("model 'missing-model' is not on the Ollama server")


# -- the core generators, without a web server ---------------------------------------------------
def test_closing_the_sync_generator_closes_the_ollama_stream(simulator: Simulator) -> None:
    with Client(simulator.url) as client:
        reply = client.chat("llama3.2", [{"role": "user", "content": PACED}])
        events = reply.sse()
        assert next(events).startswith(b"data: ")
        events.close()  # what werkzeug does when writing to the page fails
        disconnect = simulator.wait_for("disconnect", timeout=10)
    assert disconnect.lines_sent < PACED_TOTAL_LINES // 2
    assert reply.stopped and reply.done


@pytest.mark.usefixtures("async_transport")
def test_cancelling_the_async_generator_while_it_waits_closes_the_ollama_stream(simulator: Simulator) -> None:
    async def main() -> Any:
        async with AsyncClient(simulator.url) as client:
            reply = await client.chat("llama3.2", [{"role": "user", "content": PACED}])
            events = reply.sse()
            first = await events.__anext__()
            waiting = asyncio.ensure_future(events.__anext__())  # waits on Ollama's next line
            await asyncio.sleep(0)
            waiting.cancel()  # what Starlette does when uvicorn reports the disconnect
            with pytest.raises(asyncio.CancelledError):
                await waiting
            return first, reply

    first, reply = asyncio.run(main())
    disconnect = simulator.wait_for("disconnect", timeout=10)
    assert first.startswith(b"data: ")
    assert disconnect.lines_sent < PACED_TOTAL_LINES // 2
    assert reply.stopped


@pytest.mark.usefixtures("async_transport")
def test_closing_the_async_generator_between_events_closes_the_ollama_stream(simulator: Simulator) -> None:
    async def main() -> Any:
        async with AsyncClient(simulator.url) as client:
            reply = await client.chat("llama3.2", [{"role": "user", "content": PACED}])
            events = reply.sse()
            await events.__anext__()
            await events.aclose()
            return reply

    reply = asyncio.run(main())
    disconnect = simulator.wait_for("disconnect", timeout=10)
    assert disconnect.lines_sent < PACED_TOTAL_LINES // 2
    assert reply.stopped


@pytest.mark.usefixtures("sync_transport")
def test_blocking_reply_read_asynchronously_releases_its_connection_when_closed_between_events(
    simulator: Simulator,
) -> None:
    """Starlette iterates ``Reply.sse()`` asynchronously; closing it between events must not leave the
    connection for the garbage collector (which may run inside httpcore's pool lock, and deadlock)."""

    async def first_then_close(events: Any) -> bytes:
        stream = events.__aiter__()
        first = await stream.__anext__()
        await stream.aclose()
        return first

    gc.disable()
    try:
        with Client(simulator.url) as client:
            reply = client.chat("llama3.2", [{"role": "user", "content": PACED}])
            first = asyncio.run(first_then_close(reply.sse()))
            disconnect = simulator.wait_for("disconnect", timeout=10)
            assert connections_taken(client) == 0
    finally:
        gc.enable()
    assert first.startswith(b"data: ")
    assert disconnect.lines_sent < PACED_TOTAL_LINES // 2
    assert reply.stopped


@pytest.mark.usefixtures("async_transport")
def test_async_events_match_the_sync_events(simulator: Simulator) -> None:
    async def collect() -> list[bytes]:
        async with AsyncClient(simulator.url) as client:
            reply = await client.generate("qwen3", "think [[tokens=5]]", think=True)
            return [event async for event in reply.sse()]

    with Client(simulator.url) as client:
        sync_events = list(client.generate("qwen3", "think [[tokens=5]]", think=True).sse())
    async_events = asyncio.run(collect())
    strip = lambda events: [e for e in events if not e.startswith(b"event: done")]  # noqa: E731 - timing differs
    assert strip(async_events) == strip(sync_events)
    parsed = parse_events(b"".join(sync_events))
    thinking = [data for kind, data in parsed if kind == "message" and data.get("thinking")]
    assert thinking and all(data["content"] == "" for data in thinking)
    assert parsed[-1][0] == "done"


def test_ollama_down_is_a_single_error_event() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", retries=0) as client:
        events = parse_events(b"".join(client.generate("llama3.2", "hi").sse()))
    assert [kind for kind, _ in events] == ["error"]
    assert events[0][1]["type"] == "OllamaConnectionError"


def test_a_stopped_reply_ends_with_done_and_stopped_true(simulator: Simulator) -> None:
    with Client(simulator.url) as client:
        reply = client.chat("llama3.2", [{"role": "user", "content": PACED}])
        events = []
        for event in reply.sse():
            events.append(event)
            if len(events) == 2:
                reply.stop()  # e.g. the app shutting down
    parsed = parse_events(b"".join(events))
    assert [kind for kind, _ in parsed] == ["message", "message", "done"]
    assert parsed[-1][1]["stopped"] is True and parsed[-1][1]["done_reason"] is None
    assert simulator.wait_for("disconnect", timeout=10).lines_sent < PACED_TOTAL_LINES // 2


# -- framing -----------------------------------------------------------------------------------------
def test_event_is_one_data_line_of_json_and_a_blank_line() -> None:
    assert event_bytes({"content": "a\nb\r\nc\rd"}) == b'data: {"content":"a\\nb\\r\\nc\\rd"}\n\n'
    assert event_bytes({"x": 1}, event="done") == b'event: done\ndata: {"x":1}\n\n'


def test_event_is_utf8_and_survives_a_lone_surrogate() -> None:
    assert event_bytes({"content": "Grüße 日本 🙂"}) == 'data: {"content":"Grüße 日本 🙂"}\n\n'.encode()
    assert event_bytes({"content": "a\ud800b"}) == b'data: {"content":"a\\ud800b"}\n\n'


def test_delta_event_carries_thinking_only_when_present() -> None:
    assert delta_event(Chunk("Hi")) == b'data: {"content":"Hi"}\n\n'
    assert delta_event(Chunk("", "hmm")) == b'data: {"content":"","thinking":"hmm"}\n\n'
    assert delta_event(Chunk(done=True, raw={"done": True})) is None
    assert delta_event(Chunk()) is None


def test_error_event_holds_the_short_message_and_the_class_name() -> None:
    event = error_event(ModelNotFoundError("nope", host="http://127.0.0.1:1"))
    assert event.startswith(b"event: error\ndata: ") and event.endswith(b"\n\n") and event.count(b"\n") == 3
    data = json.loads(event[len(b"event: error\ndata: ") :])
    assert data == {"error": str(ModelNotFoundError("nope", host="http://127.0.0.1:1")), "type": "ModelNotFoundError"}


def test_done_event_of_a_finished_reply(simulator: Simulator) -> None:
    with Client(simulator.url) as client:
        reply = client.generate("llama3.2", "hi [[tokens=4]] [[length]]")
        reply.read()
    kind, data = parse_events(done_event(reply))[0]
    assert kind == "done" and data["done_reason"] == "length" and data["stopped"] is False
    assert data["timing"]["output_tokens"] == 4



def test_the_package_imports_no_web_framework(simulator: Simulator) -> None:
    code = (
        "import sys, ollama_nb\n"
        f"events = list(ollama_nb.Client({simulator.url!r}).generate('llama3.2', 'hi [[tokens=2]]').sse())\n"
        "assert len(events) == 3, events\n"
        "print(sorted(m for m in ('fastapi', 'starlette', 'flask', 'werkzeug', 'uvicorn') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_a_blocking_reply_read_asynchronously_inspects_anyio_once_not_per_event(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which keyword anyio's ``run_sync`` takes is found once, not on every token's event."""
    import ollama_nb.client._sse as sse

    calls: list[object] = []
    real_signature = sse.signature

    def counting_signature(obj: Any) -> Any:
        calls.append(obj)
        return real_signature(obj)

    monkeypatch.setattr(sse, "signature", counting_signature)

    async def collect(events: Any) -> list[bytes]:
        return [event async for event in events]

    with Client(simulator.url) as client:
        events = asyncio.run(collect(client.generate("llama3.2", "hi [[tokens=20]]").sse()))
    assert len([e for e in events if e.startswith(b"data: ")]) == 20
    assert len(calls) <= 1
