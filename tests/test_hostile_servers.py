"""Hostile and broken servers (raw sockets on 127.0.0.1) never take down the caller.

Memory is bounded by the package (a line without a newline is cut at a limit; compressed bodies are
inflated under the same limit), and every odd answer ends as an :class:`OllamaError` subclass, never
another exception, with the text that arrived before it kept.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import textwrap
import warnings
from typing import Any, Callable, Iterator

import pytest

from ollama_nb import (
    AsyncClient,
    Client,
    LineTooLongError,
    MalformedLineWarning,
    MalformedReplyError,
    OllamaError,
    ResponseError,
    StreamError,
)
from ollama_nb.client._sse import iter_sse
from tests.hostile_server import HostileServer, Request, chunked, gzip_bomb, headers, ndjson

Send = Callable[[bytes], None]

HELLO = {"model": "m", "response": "Hello", "done": False}
DONE = {"model": "m", "response": "", "done": True, "done_reason": "stop", "eval_count": 2, "eval_duration": 10**9}


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[Request, Send], None]], HostileServer]]:
    servers: list[HostileServer] = []

    def start(script: Callable[[Request, Send], None]) -> HostileServer:
        servers.append(HostileServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def lines_then(body: bytes, *, content_type: str = "application/x-ndjson") -> Callable[[Request, Send], None]:
    """A script answering 200 with ``body`` sent one line per HTTP chunk."""

    def script(request: Request, send: Send) -> None:
        send(headers(content_type=content_type))
        for line in body.splitlines(keepends=True):
            send(chunked(line))
        send(chunked(b""))

    return script


# -- 1. memory is bounded by the package --------------------------------------------------------
def endless_line_after_hello(size: int) -> Callable[[Request, Send], None]:
    def script(request: Request, send: Send) -> None:
        send(headers())
        send(chunked(ndjson(HELLO)))
        piece = b"x" * (1 << 20)
        for _ in range(size // len(piece)):
            send(chunked(piece))
        send(chunked(b""))

    return script


def test_a_line_without_newline_ends_the_reply_at_the_limit_keeping_the_text_before(serve: Any) -> None:
    server = serve(endless_line_after_hello(8 << 20))
    with Client(server.url, max_line_bytes=1 << 20) as client:
        reply = client.generate("m", "hi")
        with pytest.raises(LineTooLongError, match="longer than 1 MiB") as caught:
            reply.read()
    assert caught.value.reply is reply and reply.partial_text() == "Hello"
    assert reply.error is caught.value and reply.done


def test_the_client_asks_for_an_uncompressed_body(serve: Any) -> None:
    server = serve(lines_then(ndjson(HELLO, DONE)))
    with Client(server.url) as client:
        assert client.generate("m", "hi").text == "Hello"
    assert server.requests[0].headers["accept-encoding"] == "identity"


def gzip_answer(chunks: Iterator[bytes] | list[bytes], status: str = "200 OK") -> Callable[[Request, Send], None]:
    def script(request: Request, send: Send) -> None:
        send(headers(status, Content_Encoding="gzip"))
        for data in chunks:
            send(chunked(data))
        send(chunked(b""))

    return script


def test_a_gzip_body_sent_anyway_is_decoded(serve: Any) -> None:
    server = serve(gzip_answer([gzip.compress(ndjson(HELLO, DONE))]))
    with Client(server.url) as client:
        assert client.generate("m", "hi").text == "Hello"


def test_a_gzip_bomb_is_cut_at_the_limit(serve: Any) -> None:
    server = serve(gzip_answer(gzip_bomb(64 << 20)))
    with Client(server.url, max_line_bytes=1 << 20) as client:
        with pytest.raises(LineTooLongError):
            client.generate("m", "hi").read()


def test_the_async_client_cuts_a_gzip_bomb_too(serve: Any) -> None:
    server = serve(gzip_answer(gzip_bomb(64 << 20)))

    async def main() -> None:
        async with AsyncClient(server.url, max_line_bytes=1 << 20) as client:
            reply = await client.generate("m", "hi")
            with pytest.raises(LineTooLongError):
                await reply.aread()

    asyncio.run(main())


def test_an_oversized_json_answer_is_an_error(serve: Any) -> None:
    big = b'{"models": [' + b",".join([b'{"name": "%d"}' % i for i in range(100_000)]) + b"]}"
    server = serve(lines_then(big, content_type="application/json"))
    with Client(server.url, max_line_bytes=1 << 20) as client:
        with pytest.raises(LineTooLongError, match="an answer longer than 1 MiB"):
            client.models()


def test_a_pull_line_without_newline_is_cut(serve: Any) -> None:
    server = serve(endless_line_after_hello(4 << 20))
    with Client(server.url, max_line_bytes=1 << 20) as client:
        with pytest.raises(LineTooLongError):
            list(client.pull("m"))


_MEASURE = textwrap.dedent(
    """
    import resource, sys
    from ollama_nb import Client, LineTooLongError
    client = Client(sys.argv[1])
    client.version()  # imports and the connection pool warmed up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        client.generate("m", "hi").read()
    except LineTooLongError:
        pass
    else:
        raise SystemExit("no LineTooLongError")
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    """
)


def peak_growth_mib(server: HostileServer) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", _MEASURE, server.url]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return float(done.stdout)


def with_version(script: Callable[[Request, Send], None]) -> Callable[[Request, Send], None]:
    def answer(request: Request, send: Send) -> None:
        if request.path == "/api/version":
            send(headers(content_type="application/json"))
            send(chunked(b'{"version": "0.13.0"}'))
            send(chunked(b""))
        else:
            script(request, send)

    return answer


def test_a_200_mb_line_grows_a_fresh_process_by_less_than_100_mib(serve: Any) -> None:
    growth = peak_growth_mib(serve(with_version(endless_line_after_hello(200 << 20))))
    print(f"peak RSS growth, 200 MB line: {growth:.1f} MiB")
    assert growth < 100, growth


def test_a_300_mb_gzip_bomb_grows_a_fresh_process_by_less_than_100_mib(serve: Any) -> None:
    bomb = list(gzip_bomb(300 << 20))  # ~300 KB on the wire
    growth = peak_growth_mib(serve(with_version(gzip_answer(bomb))))
    print(f"peak RSS growth, 300 MB gzip bomb ({sum(map(len, bomb)) // 1024} KiB sent): {growth:.1f} MiB")
    assert growth < 100, growth


# -- 2. every odd answer is an OllamaError ------------------------------------------------------
DEEP = b'{"model": "m", "response": ' + b"[" * 100_000 + b"]" * 100_000 + b', "done": false}\n'


def test_json_nested_too_deep_is_a_skipped_line_not_a_recursion_error(serve: Any) -> None:
    server = serve(lines_then(ndjson(HELLO) + DEEP + ndjson(DONE)))
    with Client(server.url) as client:
        reply = client.generate("m", "hi")
        with pytest.warns(MalformedLineWarning):
            assert reply.text == "Hello"
    assert reply.malformed_lines == 1


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "1" + "0" * 400])
def test_non_finite_statistics_count_as_missing(serve: Any, number: str) -> None:
    done = (
        b'{"model":"m","response":"","done":true,"done_reason":"stop","eval_count":%s,"eval_duration":%s,'
        b'"prompt_eval_count":%s,"total_duration":%s}\n' % ((number.encode(),) * 4)
    )
    server = serve(lines_then(ndjson(HELLO) + done))
    with Client(server.url) as client:
        reply = client.generate("m", "hi")
        assert reply.text == "Hello"
    timing = reply.timing
    assert timing.eval_s is None and timing.prompt_tokens is None and timing.server_total_s is None
    assert "nan" not in timing.summary().lower() and "inf" not in timing.summary().lower()
    events = b"".join(iter_sse(Client(server.url).generate("m", "hi")))
    assert b"NaN" not in events and b"Infinity" not in events
    json.loads(events.split(b"data: ")[-1])  # strict JSON


@pytest.mark.parametrize(
    ("line", "endpoint"),
    [
        ({"model": "m", "response": 5, "done": False}, "generate"),
        ({"model": "m", "response": ["a"], "done": False}, "generate"),
        ({"model": "m", "thinking": {"a": 1}, "done": False}, "generate"),
        ({"model": "m", "message": ["a"], "done": False}, "chat"),
        ({"model": "m", "message": "hello", "done": False}, "chat"),
        ({"model": "m", "message": {"role": "assistant", "content": {"a": 1}}, "done": False}, "chat"),
    ],
)
def test_a_field_of_the_wrong_type_ends_the_reply_with_an_ollama_error(
    serve: Any, line: dict[str, Any], endpoint: str
) -> None:
    hello = HELLO if endpoint == "generate" else {"model": "m", "message": {"role": "assistant", "content": "Hello"}}
    server = serve(lines_then(ndjson(hello, line, DONE)))
    with Client(server.url) as client:
        reply = client.generate("m", "hi") if endpoint == "generate" else client.chat("m", [])
        with pytest.raises(MalformedReplyError, match="not Ollama's reply") as caught:
            reply.read()
    assert caught.value.reply is reply and reply.partial_text() == "Hello"


@pytest.mark.parametrize(("calls", "reason"), [("oops", 5), ({"a": 1}, ["stop"]), (7, {"x": 1})])
def test_odd_tool_calls_and_done_reason_are_noted_not_raised(serve: Any, calls: Any, reason: Any) -> None:
    line = {"model": "m", "message": {"role": "assistant", "content": "Hi", "tool_calls": calls}, "done": False}
    done = {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": reason}
    server = serve(lines_then(ndjson(line, done)))
    with Client(server.url) as client:
        reply = client.chat("m", [])
        assert reply.text == "Hi"
    assert reply.done_reason is None and reply.tool_calls == []
    assert any("malformed tool call" in note for note in reply.notes)


def test_an_error_line_of_any_shape_is_a_stream_error(serve: Any) -> None:
    server = serve(lines_then(ndjson(HELLO, {"error": {"deep": [[[1]]]}})))
    with Client(server.url) as client:
        with pytest.raises(StreamError, match="deep"):
            client.generate("m", "hi").read()


def test_an_html_page_is_one_error_naming_the_host_not_a_warning_per_line(serve: Any) -> None:
    page = b"<!DOCTYPE html>\n" + b"<p>proxy says hello</p>\n" * 5000
    server = serve(lines_then(page, content_type="text/html"))
    with Client(server.url) as client, warnings.catch_warnings():
        warnings.simplefilter("error")
        reply = client.generate("m", "hi")
        with pytest.raises(MalformedReplyError, match=server.url.replace(".", r"\.")) as caught:
            reply.read()
    assert len(str(caught.value).splitlines()) == 2 and reply.malformed_lines == 0


def test_sse_ends_with_an_error_event_for_an_odd_chunk(serve: Any) -> None:
    server = serve(lines_then(ndjson(HELLO, {"model": "m", "response": 5, "done": False})))
    with Client(server.url) as client:
        events = b"".join(iter_sse(client.generate("m", "hi"))).split(b"\n\n")
    assert events[0] == b'data: {"content":"Hello"}'
    assert events[-2].startswith(b"event: error\ndata: ") and b"MalformedReplyError" in events[-2]


def json_answer(status: str, body: bytes) -> Callable[[Request, Send], None]:
    def script(request: Request, send: Send) -> None:
        send(headers(status, content_type="application/json"))
        send(chunked(body))
        send(chunked(b""))

    return script


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"error": {"message": 5}}',
        b"[" * 50_000,
        b'{"error": NaN}',
    ],
)
def test_odd_http_error_bodies_are_response_errors(serve: Any, body: bytes) -> None:
    server = serve(json_answer("500 Internal Server Error", body))
    with Client(server.url) as client:
        with pytest.raises(ResponseError) as caught:
            client.generate("m", "hi").read()
    assert len(str(caught.value)) < 800


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (lambda c: c.models(), b'{"models": "many"}'),
        (lambda c: c.models(), b'{"models": [1, 2]}'),
        (lambda c: c.models(), b"[1, 2]"),
        (lambda c: c.ps(), b'{"models": {"a": 1}}'),
        (lambda c: c.show("m"), b"[" * 100_000),
        (lambda c: c.version(), b"<html>"),
    ],
)
def test_odd_model_endpoint_answers_are_malformed_reply_errors(serve: Any, call: Any, body: bytes) -> None:
    server = serve(json_answer("200 OK", body))
    with Client(server.url) as client:
        with pytest.raises(MalformedReplyError):
            call(client)


def test_wrong_typed_model_fields_are_read_as_missing(serve: Any) -> None:
    body = (
        b'{"models": [{"name": "a", "size": "big", "details": [1]}, {"name": "b", "size": NaN},'
        b' {"name": "c", "size": 1e999}],'
        b' "capabilities": 5, "model_info": {"x.context_length": "many"}}'
    )
    server = serve(json_answer("200 OK", body))
    with Client(server.url) as client:
        assert [(m.name, m.size) for m in client.models()] == [("a", 0), ("b", 0), ("c", 0)]
        assert [(m.name, m.size_vram) for m in client.ps()] == [("a", 0), ("b", 0), ("c", 0)]
        details = client.show("m")
        assert details.capabilities == () and details.context_length is None


def test_odd_pull_events_are_read_or_raised_as_ollama_errors(serve: Any) -> None:
    events = ndjson(
        {"status": "pulling", "total": "x", "completed": [1]}, {"status": 5, "total": 1e999}, {"error": [1, 2]}
    )
    server = serve(lines_then(events))
    with Client(server.url) as client:
        seen = []
        with pytest.raises(OllamaError):
            for event in client.pull("m"):
                seen.append((event.status, event.total, event.completed))
    assert seen == [("pulling", None, None), ("5", None, None)]


# -- 11. a redirect names where it points -----------------------------------------------------------
@pytest.mark.parametrize(
    "status", ["301 Moved Permanently", "302 Found", "307 Temporary Redirect", "308 Permanent Redirect"]
)
def test_a_redirect_is_an_error_naming_its_location_and_is_not_followed(serve: Any, status: str) -> None:
    def redirect(request: Request, send: Send) -> None:
        send(f"HTTP/1.1 {status}\r\nLocation: http://127.0.0.1:9/api/generate\r\nContent-Length: 0\r\n"
             "Connection: close\r\n\r\n".encode())

    server = serve(redirect)
    with Client(server.url) as client:
        expected = r"answered 30\d: a redirect to 'http://127.0.0.1:9/api/generate'"
        with pytest.raises(ResponseError, match=expected) as caught:
            client.generate("m", "hi").read()
        with pytest.raises(ResponseError, match="redirect"):
            client.models()
    assert len(str(caught.value).splitlines()) == 2 and len(server.requests) == 2  # nothing followed


def test_a_redirect_without_location_says_so(serve: Any) -> None:
    server = serve(lambda request, send: send(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
    with Client(server.url) as client:
        with pytest.raises(ResponseError, match="no Location header"):
            client.version()


@pytest.mark.parametrize("location", ["javascript:alert(1)//<img src=x>", "http://a b/"])
def test_a_redirect_to_an_unreadable_address_is_one_ollama_error(serve: Any, location: str) -> None:
    def redirect(request: Request, send: Send) -> None:
        send(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())

    server = serve(redirect)
    with Client(server.url) as client:
        with pytest.raises(OllamaError, match="redirect") as caught:
            client.generate("m", "hi").read()
    assert len(str(caught.value).splitlines()) == 2


def test_the_async_client_reports_an_unreadable_redirect_too(serve: Any) -> None:
    answer = b"HTTP/1.1 301 Moved\r\nLocation: javascript:x//y\r\nContent-Length: 0\r\n\r\n"
    server = serve(lambda request, send: send(answer))

    async def main() -> None:
        async with AsyncClient(server.url) as client:
            with pytest.raises(OllamaError, match="redirect"):
                await client.version()

    asyncio.run(main())


def test_a_pull_answered_with_an_html_page_is_one_error_not_a_warning_per_line(serve: Any) -> None:
    server = serve(lines_then(b"<!DOCTYPE html>\n" + b"<p>nope</p>\n" * 3000, content_type="text/html"))
    with Client(server.url) as client, warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MalformedReplyError, match="not Ollama's reply"):
            list(client.pull("m"))
