"""The bundled Ollama simulator speaks Ollama's wire format and obeys its prompt directives.

Everything runs over real sockets on 127.0.0.1. Expected line shapes are copied from the
DERIVED fixtures in the shared ollama-api folder (written from Ollama's Go structs).
"""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ollama_nb.simulator import Event, Request, Simulator
from ollama_nb.simulator._directives import DirectiveError, parse_directives
from ollama_nb.simulator._replies import ReplyInput, plan_reply, tokenize
from ollama_nb.simulator._wire import go_base64_error, rfc3339_nano

# --- DERIVED fixture lines (Ollama's wire transcripts), one per shape -------------------
GENERATE_CHUNK = '{"model":"llama3.2","created_at":"2025-01-01T00:00:00.000001Z","response":"The","done":false}'
GENERATE_DONE = (
    '{"model":"llama3.2","created_at":"2025-01-01T00:00:00.02Z","response":"","done":true,"done_reason":"stop",'
    '"context":[128006,882,128007],"total_duration":510000000,"load_duration":12000000,"prompt_eval_count":26,'
    '"prompt_eval_duration":130000000,"eval_count":2,"eval_duration":40000000}'
)
CHAT_THINKING = (
    '{"model":"qwen3","created_at":"2025-01-01T00:00:00.1Z","message":{"role":"assistant","content":"",'
    '"thinking":"Okay"},"done":false}'
)
CHAT_CONTENT = (
    '{"model":"qwen3","created_at":"2025-01-01T00:00:00.12Z","message":{"role":"assistant","content":"391"},'
    '"done":false}'
)
CHAT_DONE = (
    '{"model":"qwen3","created_at":"2025-01-01T00:00:00.13Z","message":{"role":"assistant","content":""},'
    '"done":true,"done_reason":"stop","total_duration":900000000,"load_duration":15000000,"prompt_eval_count":18,'
    '"prompt_eval_duration":20000000,"eval_count":40,"eval_duration":600000000}'
)
CHAT_TOOL_CALL = (
    '{"model":"qwen3","created_at":"2025-01-01T00:00:00.2Z","message":{"role":"assistant","content":"",'
    '"tool_calls":[{"id":"call_a1b2c3d4","function":{"index":0,"name":"get_weather",'
    '"arguments":{"city":"Tokyo"}}}]},"done":false}'
)
MIDSTREAM_ERROR = (
    '{"error":"model runner has unexpectedly stopped, this may be due to resource limitations or an '
    'internal error, check ollama server logs for details"}'
)
PULL_LAYER = (
    '{"status":"pulling 85eece979df5","digest":"sha256:85eece979df55e1405c9d067de20f6ba3a36354f2b45107c4ddf'
    '91970991d020","total":2019377376,"completed":1048576}'
)
PULL_NOT_FOUND = ['{"status":"pulling manifest"}', '{"error":"pull model manifest: file does not exist"}']
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a given city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$")
ROOT = Path(__file__).resolve().parents[1]


# --- helpers ------------------------------------------------------------------------------
def skeleton(value: Any) -> Any:
    """Keys in order and value types, recursively: the 'shape' of a JSON line."""
    if isinstance(value, dict):
        return [(key, skeleton(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [skeleton(value[0])] if value else []
    return type(value).__name__


def shape_of(line: str | bytes) -> Any:
    return skeleton(json.loads(line))


def go_style(line: bytes) -> bytes:
    """How Go's json.Marshal would write the same value (compact, HTML-safe, raw UTF-8)."""
    text = json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode()


def raw_post(sim: Simulator, path: str, body: dict[str, Any]) -> tuple[bytes, list[bytes]]:
    """POST with Connection: close over a bare socket; return (header block, chunk payloads or [body])."""
    payload = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as sock:
        sock.sendall(
            b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (path.encode(), len(payload), payload)
        )
        parts = []
        while data := sock.recv(1 << 20):
            parts.append(data)
    head, _, rest = b"".join(parts).partition(b"\r\n\r\n")
    if b"Transfer-Encoding: chunked" not in head:
        return head, [rest]
    chunks, pos = [], 0
    while pos < len(rest):
        end = rest.index(b"\r\n", pos)
        size = int(rest[pos:end], 16)
        if size == 0:
            break
        chunks.append(rest[end + 2:end + 2 + size])
        pos = end + 2 + size + 2
    return head, chunks


def chat_body(content: str, model: str = "llama3.2", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def stream_lines(client: httpx.Client, path: str, body: dict[str, Any]) -> list[str]:
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        return list(response.iter_lines())


def content_of(lines: list[str]) -> str:
    parts = []
    for line in lines:
        obj = json.loads(line)
        parts.append(obj["message"]["content"] if "message" in obj else obj.get("response", ""))
    return "".join(parts)


@pytest.fixture
def client(simulator: Simulator) -> Iterator[httpx.Client]:
    # verify=False: plain http, and it skips loading CA certificates (~80 ms per client)
    with httpx.Client(base_url=simulator.url, timeout=10, verify=False) as http:
        yield http


# --- wire format ----------------------------------------------------------------------------
def test_generate_stream_lines_have_the_derived_shape_and_go_bytes(simulator: Simulator) -> None:
    head, chunks = raw_post(simulator, "/api/generate", {"model": "llama3.2", "prompt": "Why? [[tokens=4]]"})
    assert b"Transfer-Encoding: chunked" in head and b"X-Ollama-Simulator: ollama_nb" in head
    assert b"Content-Type: application/x-ndjson" in head
    assert len(chunks) == 5  # one HTTP chunk per NDJSON line
    for chunk in chunks:
        assert chunk.endswith(b"\n") and chunk.count(b"\n") == 1
        assert chunk[:-1] == go_style(chunk)
        assert CREATED_AT.match(json.loads(chunk)["created_at"])
    assert all(shape_of(c) == shape_of(GENERATE_CHUNK) for c in chunks[:-1])
    assert shape_of(chunks[-1]) == shape_of(GENERATE_DONE)


def test_chat_thinking_stream_matches_derived_shapes(client: httpx.Client) -> None:
    lines = stream_lines(client, "/api/chat", chat_body("17*23? [[tokens=3]]", model="qwen3", think=True))
    shapes = [shape_of(line) for line in lines]
    thinking = [s for s in shapes if s == shape_of(CHAT_THINKING)]
    assert thinking and shapes[: len(thinking)] == thinking  # thinking first
    assert shapes[len(thinking):-1] == [shape_of(CHAT_CONTENT)] * 3
    assert shapes[-1] == shape_of(CHAT_DONE)
    final = json.loads(lines[-1])
    assert final["eval_count"] == len(lines) - 1
    assert final["total_duration"] >= final["eval_duration"] > 0


def test_thinking_levels_and_generate_thinking_key_order(client: httpx.Client) -> None:
    lines = stream_lines(client, "/api/generate", {"model": "deepseek-r1", "prompt": "x [[tokens=1]]", "think": "low"})
    first = json.loads(lines[0])
    assert list(first) == ["model", "created_at", "response", "thinking", "done"]
    assert first["thinking"].startswith("*(simulated thinking)*")
    assert sum("thinking" in json.loads(line) for line in lines) == 8
    high = stream_lines(client, "/api/chat", chat_body("x [[tokens=1]]", model="gpt-oss:20b", think="high"))
    assert len(high) == 32 + 1 + 1


def test_tool_call_chunk_matches_derived_fixture(client: httpx.Client) -> None:
    lines = stream_lines(client, "/api/chat", chat_body("weather in Tokyo?", tools=[WEATHER_TOOL]))
    assert len(lines) == 2
    assert shape_of(lines[0]) == shape_of(CHAT_TOOL_CALL)
    call = json.loads(lines[0])["message"]["tool_calls"][0]
    assert re.fullmatch(r"call_[a-z0-9]{8}", call["id"])
    assert call["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}
    assert shape_of(lines[1]) == shape_of(CHAT_DONE)


def test_html_is_escaped_like_go_and_utf8_is_sent_raw(simulator: Simulator) -> None:
    _, chunks = raw_post(simulator, "/api/chat", chat_body("[[html]]", stream=False))
    body = b"".join(chunks)
    assert b"\\u003cscript\\u003e" in body and b"\\u003cimg" in body and b"\\u0026" in body
    assert b"<" not in body and b">" not in body
    _, chunks = raw_post(simulator, "/api/chat", chat_body("[[utf8]] [[tokens=4]]"))
    joined = b"".join(chunks)
    assert "Grü".encode() in joined and b"\\u00" not in joined


def test_line_separators_are_escaped_like_go(client: httpx.Client) -> None:
    response = client.post("/api/generate", json={"model": "m", "prompt": "a\u2028b [[echo]]", "stream": False})
    assert b"a\\u2028b" in response.content


def test_utf8_lines_are_split_inside_a_character(simulator: Simulator) -> None:
    _, chunks = raw_post(simulator, "/api/chat", chat_body("[[utf8]] [[tokens=6]]"))
    assert len(chunks) == 2 * 7
    for first, second in zip(chunks[0::2], chunks[1::2], strict=True):
        line = first + second
        json.loads(line)
        if any(byte >= 0x80 for byte in line):
            with pytest.raises(UnicodeDecodeError):
                first.decode("utf-8")


def test_created_at_is_rfc3339_nano_with_trailing_zeros_trimmed() -> None:
    assert rfc3339_nano(1_735_689_600_000_000_000) == "2025-01-01T00:00:00Z"
    assert rfc3339_nano(1_735_689_600_120_000_000) == "2025-01-01T00:00:00.12Z"
    assert rfc3339_nano(1_735_689_600_000_001_000) == "2025-01-01T00:00:00.000001Z"


def test_json_bodies_are_compact_without_trailing_newline(client: httpx.Client) -> None:
    response = client.post("/api/chat", json=chat_body("hi", stream=False))
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.content == go_style(response.content)
    assert shape_of(response.content) == shape_of(CHAT_DONE)


# --- chat and generate ------------------------------------------------------------------------
def test_reply_is_marked_simulated_deterministic_and_about_60_tokens(client: httpx.Client) -> None:
    first = stream_lines(client, "/api/chat", chat_body("Why is the sky blue?"))
    again = stream_lines(client, "/api/chat", chat_body("Why is the sky blue?"))
    text = content_of(first)
    assert text.startswith("*(simulated reply)* ") and 'You asked: "Why is the sky blue?"' in text
    assert text == content_of(again)
    assert len(first) - 1 == 60
    assert any(json.loads(line)["message"]["content"].startswith(" ") for line in first[1:-1])
    other_seed = client.post("/api/chat", json=chat_body("Why is the sky blue?", stream=False,
                                                         options={"seed": 7, "temperature": 0.1}))
    assert other_seed.json()["message"]["content"] != text


def test_non_streaming_chat_and_generate_return_one_json_body(client: httpx.Client) -> None:
    chat = client.post("/api/chat", json=chat_body("hi [[tokens=5]]", model="qwen3", think=True, stream=False)).json()
    assert list(chat["message"]) == ["role", "content", "thinking"]
    assert chat["done"] is True and chat["done_reason"] == "stop" and chat["eval_count"] == 5 + 16
    gen = client.post("/api/generate", json={"model": "llama3.2", "prompt": "hi", "stream": False}).json()
    assert gen["response"].startswith("*(simulated reply)*") and gen["context"]
    assert gen["prompt_eval_count"] == len("hi") // 4 + 1


def test_num_predict_cuts_the_reply_with_done_reason_length(client: httpx.Client) -> None:
    lines = stream_lines(client, "/api/chat", chat_body("hi", options={"num_predict": 4}))
    assert len(lines) == 5 and json.loads(lines[-1])["done_reason"] == "length"


def test_load_and_unload_requests(client: httpx.Client) -> None:
    load = client.post("/api/generate", json={"model": "llama3.2"}).json()
    assert load["done_reason"] == "load" and list(load) == ["model", "created_at", "response", "done", "done_reason"]
    assert [m["name"] for m in client.get("/api/ps").json()["models"]] == ["llama3.2:latest"]
    unload = client.post("/api/chat", json={"model": "llama3.2", "messages": [], "keep_alive": 0}).json()
    assert unload["done_reason"] == "unload" and unload["message"] == {"role": "assistant", "content": ""}
    assert client.get("/api/ps").json() == {"models": []}


def test_tool_directives_pick_tool_and_arguments(client: httpx.Client) -> None:
    other = {"type": "function", "function": {"name": "add", "parameters": {
        "type": "object", "required": ["a", "b", "c", "d"],
        "properties": {"a": {"type": "integer"}, "b": {"type": "number"}, "c": {"type": "boolean"},
                       "d": {"type": "string", "enum": ["x", "y"]}}}}}
    body = chat_body("sum [[tool=add]]", tools=[WEATHER_TOOL, other], stream=False)
    call = client.post("/api/chat", json=body).json()["message"]["tool_calls"][0]["function"]
    assert call == {"index": 0, "name": "add", "arguments": {"a": 2, "b": 1.5, "c": True, "d": "x"}}
    body = chat_body('go [[args={"city": "Paris", "days": [1, 2]}]]', tools=[WEATHER_TOOL], stream=False)
    call = client.post("/api/chat", json=body).json()["message"]["tool_calls"][0]["function"]
    assert call["arguments"] == {"city": "Paris", "days": [1, 2]}


def test_tool_result_turn_quotes_the_tool_output(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "weather in Toronto?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}}]},
        {"role": "tool", "content": "11 degrees celsius", "tool_name": "get_weather"},
    ]
    reply = client.post("/api/chat", json={"model": "llama3.2", "messages": messages,
                                           "tools": [WEATHER_TOOL], "stream": False}).json()
    text = reply["message"]["content"]
    assert text.startswith("*(simulated reply)* ") and "get_weather" in text and "11 degrees celsius" in text
    assert "tool_calls" not in reply["message"]


def test_format_gives_json_documents_unless_invalid_json_is_asked(client: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"},
                                               "tags": {"type": "array", "items": {"type": "string"}}}}
    text = client.post("/api/generate", json={"model": "m", "prompt": "x", "format": schema,
                                              "stream": False}).json()["response"]
    assert json.loads(text) == {"age": 2, "available": True, "tags": ["simulated"]}
    assert isinstance(json.loads(content_of(stream_lines(client, "/api/chat", chat_body("x", format="json")))), dict)
    broken = client.post("/api/chat", json=chat_body("x [[invalid-json]]", format="json", stream=False))
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.json()["message"]["content"])


def test_images_are_counted_and_measured(client: httpx.Client) -> None:
    images = [base64.b64encode(b"x" * 100).decode(), base64.b64encode(b"y" * 7).decode()]
    text = client.post("/api/chat", json={"model": "gemma3", "stream": False, "messages": [
        {"role": "user", "content": "what is this?", "images": images}]}).json()["message"]["content"]
    assert "2 images (100 bytes, 7 bytes)" in text
    bad = client.post("/api/generate", json={"model": "gemma3", "prompt": "x", "images": ["aGV*bG8="]})
    assert (bad.status_code, bad.json()) == (400, {"error": "illegal base64 data at input byte 3"})


# --- directives ---------------------------------------------------------------------------------
def test_echo_markdown_html_and_length_directives(client: httpx.Client) -> None:
    def reply(prompt: str) -> dict[str, Any]:
        return client.post("/api/chat", json=chat_body(prompt, stream=False)).json()

    assert reply("say exactly this [[echo]]")["message"]["content"] == "say exactly this"
    markdown = reply("[[markdown]]")["message"]["content"]
    assert markdown.startswith("*(simulated reply)* ")
    for part in ("\n## ", "\n- ", "```python\n", "\n| ", "|---"):
        assert part in markdown
    html = reply("[[html]]")["message"]["content"]
    assert "<img src=x onerror=" in html and "<script>" in html
    assert reply("[[length]]")["done_reason"] == "length"


def test_tokens_directive_gives_exactly_n_chunks_even_100000(simulator: Simulator) -> None:
    _, chunks = raw_post(simulator, "/api/chat", chat_body("[[tokens=7]]"))
    assert len(chunks) == 8
    _, chunks = raw_post(simulator, "/api/generate", {"model": "m", "prompt": "[[tokens=100000]]"})
    assert len(chunks) == 100_001 and json.loads(chunks[-1])["eval_count"] == 100_000
    # (how fast is bench/'s business: bench/run.py --only streams)


def test_delay_directive_and_tokens_per_second_pace_the_stream(client: httpx.Client, simulator: Simulator) -> None:
    # lower bounds from the server's own stats: a loaded machine only makes them larger
    lines = stream_lines(client, "/api/chat", chat_body("[[tokens=5]] [[delay=0.03]]"))
    assert json.loads(lines[-1])["eval_duration"] >= 4 * 0.03 * 1e9
    simulator.tokens_per_second = 100
    lines = stream_lines(client, "/api/generate", {"model": "m", "prompt": "[[tokens=6]]"})
    assert json.loads(lines[-1])["eval_duration"] >= 5 * 0.01 * 1e9


def test_error_after_sends_an_in_band_error_line_and_no_done_line(client: httpx.Client) -> None:
    lines = stream_lines(client, "/api/chat", chat_body("[[error-after=3]]"))
    assert len(lines) == 4 and lines[-1] == MIDSTREAM_ERROR
    before_first = client.post("/api/chat", json=chat_body("[[error-after=0]]"))
    assert before_first.status_code == 500 and before_first.text == MIDSTREAM_ERROR


def test_drop_after_closes_mid_stream_without_terminator(client: httpx.Client, simulator: Simulator) -> None:
    received = []
    with pytest.raises(httpx.RemoteProtocolError), client.stream(
        "POST", "/api/chat", json=chat_body("[[drop-after=3]]")
    ) as response:
        received.extend(response.iter_lines())
    assert len(received) == 3
    assert simulator.wait_for("drop", timeout=5).lines_sent == 3


def test_malformed_inserts_a_non_json_line_after_the_second_token(client: httpx.Client) -> None:
    lines = stream_lines(client, "/api/chat", chat_body("[[malformed]] [[tokens=4]]"))
    assert len(lines) == 6
    json.loads(lines[1])
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[2])


def test_status_directive_answers_that_http_error(client: httpx.Client) -> None:
    response = client.post("/api/generate", json={"model": "m", "prompt": "[[status=503]]"})
    assert response.status_code == 503 and "server busy" in response.json()["error"]
    response = client.post("/api/chat", json=chat_body("[[status=418]]"))
    assert response.status_code == 418 and response.json()["error"]


def test_bad_directive_values_are_reported_not_ignored(client: httpx.Client) -> None:
    response = client.post("/api/chat", json=chat_body("[[tokens=many]]"))
    assert response.status_code == 400 and "[[tokens=many]]" in response.json()["error"]
    with pytest.raises(DirectiveError):
        parse_directives("[[args=[1]]]")
    text, found = parse_directives("keep [[unknown]] text [[echo]]")
    assert (text, found.echo) == ("keep [[unknown]] text", True)


def test_tokenizer_pieces_rejoin_to_the_text() -> None:
    text = "Grüße, 日本! The notebook's 12345 items_x\n\n```py\n"
    assert "".join(tokenize(text)) == text
    plan = plan_reply(ReplyInput(model="m", text="hello"))
    assert plan.content[0] == "*(simulated reply)*" and all(t.startswith(" ") or not t[0].isalpha()
                                                            for t in plan.content[1:4])


# --- other endpoints ------------------------------------------------------------------------
def test_root_version_tags_show_and_ps(client: httpx.Client) -> None:
    root = client.get("/")
    assert (root.text, root.headers["content-type"]) == ("Ollama is running", "text/plain; charset=utf-8")
    head = client.head("/")
    assert head.content == b"" and head.headers["content-length"] == "17"
    assert client.get("/api/version").json() == {"version": "0.33.0"}
    tags = client.get("/api/tags").json()["models"]
    assert {"llama3.2:latest", "qwen3:latest", "gemma3:latest"} <= {m["name"] for m in tags}
    assert list(tags[0]) == ["name", "model", "modified_at", "size", "digest", "details", "capabilities"]
    assert list(tags[0]["details"]) == ["parent_model", "format", "family", "families", "parameter_size",
                                        "quantization_level", "context_length", "embedding_length"]
    show = client.post("/api/show", json={"model": "gemma3"}).json()
    assert {"parameters", "license", "capabilities", "modified_at", "details", "model_info"} <= set(show)
    assert show["capabilities"] == ["completion", "vision"]  # gemma3's template has no tools
    assert show["model_info"]["gemma3.context_length"] == 8192
    small = client.post("/api/show", json={"model": "llama3.2-ctx512"}).json()
    assert small["model_info"]["llama.context_length"] == 512
    assert "thinking" in client.post("/api/show", json={"name": "qwen3"}).json()["capabilities"]
    client.post("/api/chat", json=chat_body("hi", model="qwen3", stream=False))
    ps = client.get("/api/ps").json()["models"]
    assert [m["name"] for m in ps] == ["qwen3:latest"]
    assert list(ps[0]) == ["name", "model", "size", "digest", "details", "expires_at", "size_vram",
                           "context_length"]


def test_pull_streams_progress_then_lists_the_model(client: httpx.Client, simulator: Simulator) -> None:
    simulator.pull_seconds = 0.2
    started = time.monotonic()
    lines = stream_lines(client, "/api/pull", {"model": "tinyllama"})
    assert time.monotonic() - started >= 0.15
    assert lines[0] == '{"status":"pulling manifest"}' and lines[-1] == '{"status":"success"}'
    completed = [json.loads(line)["completed"] for line in lines if '"completed"' in line]
    assert len(completed) > 10
    assert all(shape_of(line) == shape_of(PULL_LAYER) for line in lines if '"completed"' in line)
    assert "tinyllama:latest" in {m["name"] for m in client.get("/api/tags").json()["models"]}
    assert stream_lines(client, "/api/pull", {"model": "missing-model"}) == PULL_NOT_FOUND
    quick = client.post("/api/pull", json={"model": "x", "stream": False})
    assert (quick.status_code, quick.text) == (200, '{"status":"success"}')


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "expected"),
    [
        ("POST", "/api/chat", b"", 400, {"error": "missing request body"}),
        ("POST", "/api/chat", b"xyz", 400, {"error": "invalid character 'x' looking for beginning of value"}),
        ("POST", "/api/chat", b'{"messages": []}', 400, {"error": "model is required"}),
        ("POST", "/api/chat", b'{"model": "no-such-model", "messages": []}', 404,
         {"error": "model 'no-such-model' not found"}),
        ("POST", "/api/generate", b'{"model": "missing"}', 404, {"error": "model 'missing' not found"}),
        ("POST", "/api/show", b'{"model": "missing"}', 404, {"error": "model 'missing' not found"}),
        ("POST", "/api/chat", b'{"model": "llama3.2", "messages": [{"role": "user", "content": "x"}], "think": true}',
         400, {"error": '"llama3.2" does not support thinking'}),
        ("POST", "/api/generate", b'{"model": "m", "prompt": "x", "keep_alive": "10"}', 400,
         {"error": 'time: missing unit in duration "10"'}),
        ("POST", "/api/generate", b'{"model": "m", "prompt": "x", "options": {"temperature": "hot"}}', 500,
         {"error": 'option "temperature" must be of type float32'}),
        ("GET", "/api/chat", b"", 405, "405 method not allowed"),
        ("GET", "/api/nothing", b"", 404, "404 page not found"),
    ],
)
def test_errors_use_ollamas_status_and_text(client: httpx.Client, method: str, path: str, body: bytes,
                                            status: int, expected: Any) -> None:
    response = client.request(method, path, content=body)
    assert response.status_code == status
    assert response.headers["x-ollama-simulator"] == "ollama_nb"
    if isinstance(expected, dict):
        assert response.json() == expected
    else:
        assert (response.text, response.headers["content-type"]) == (expected, "text/plain")


def test_go_base64_error_positions() -> None:
    assert go_base64_error("aGVsbG8=") is None
    assert go_base64_error("aGVsbG8") == 4
    assert go_base64_error("a=") == 1
    assert go_base64_error("aGVsbG8=x") == 8


# --- connections, events, lifecycle -------------------------------------------------------------
def test_client_closing_mid_stream_is_noticed_while_the_server_waits_between_tokens(
    client: httpx.Client, simulator: Simulator
) -> None:
    # The second token is due 60 s after the first: a server that noticed the close only when it
    # next wrote would record nothing within the 30 s wait below (no clock is asserted on).
    with client.stream("POST", "/api/chat", json=chat_body("[[tokens=3]] [[delay=60]]")) as response:
        next(response.iter_lines())
        response.close()
    event = simulator.wait_for("disconnect", timeout=30)
    assert event.path == "/api/chat" and event.lines_sent == 1


def test_disconnect_at_full_speed_stops_generation(simulator: Simulator) -> None:
    payload = json.dumps(chat_body("[[tokens=300000]]")).encode()
    with socket.create_connection(("127.0.0.1", simulator.port)) as sock:
        sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
        sock.recv(4096)
    event = simulator.wait_for("disconnect", timeout=5)
    assert event.lines_sent < 300_001
    assert not any(e.kind == "complete" and e.path == "/api/chat" for e in simulator.events)


def test_wait_for_returns_successive_events_then_times_out(client: httpx.Client, simulator: Simulator) -> None:
    for _ in range(2):
        with client.stream("POST", "/api/chat", json=chat_body("[[tokens=50]] [[delay=0.01]]")) as response:
            next(response.iter_lines())
    first, second = simulator.wait_for("disconnect"), simulator.wait_for("disconnect")
    assert isinstance(first, Event) and first.time < second.time
    with pytest.raises(TimeoutError):
        simulator.wait_for("disconnect", timeout=0.05)
    requests = simulator.requests
    assert isinstance(requests[0], Request) and requests[0].body is not None
    assert requests[0].body["model"] == "llama3.2" and requests[0].method == "POST"


def test_drop_next_connections_closes_without_a_byte(simulator: Simulator) -> None:
    simulator.drop_next_connections(2)
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            httpx.get(simulator.url + "/api/version", timeout=5, verify=False)
    assert simulator.wait_for("drop").lines_sent == 0
    assert httpx.get(simulator.url + "/api/version", timeout=5, verify=False).status_code == 200


def test_keep_alive_connection_serves_several_requests(client: httpx.Client, simulator: Simulator) -> None:
    local_ports = set()
    for _ in range(3):
        with client.stream("POST", "/api/chat", json=chat_body("[[tokens=2]]")) as response:
            assert len(list(response.iter_lines())) == 3
            local_ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])
    assert len(local_ports) == 1
    # the server records "complete" after its last write, possibly after the client has read it
    assert [simulator.wait_for("complete", timeout=5).lines_sent for _ in range(3)] == [3, 3, 3]


def test_simulator_refuses_non_local_hosts_and_restarts_cleanly() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        Simulator(host="0.0.0.0")
    sim = Simulator()
    sim.start()
    port = sim.port
    assert httpx.get(sim.url, verify=False).text == "Ollama is running"
    sim.stop()
    sim.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2, verify=False)


def test_cli_starts_answers_and_stops_on_ctrl_c() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "ollama_nb.simulator", "--port", str(port), "--tokens-per-second", "500"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "ollama_nb simulator" in banner and f"http://127.0.0.1:{port}" in banner
        response = httpx.post(f"http://127.0.0.1:{port}/api/generate", timeout=5, verify=False,
                              json={"model": "llama3.2", "prompt": "hi [[tokens=3]]", "stream": False})
        assert response.headers["x-ollama-simulator"] == "ollama_nb"
        assert response.json()["response"].startswith("*(simulated reply)*")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_refuses_a_public_host() -> None:
    result = subprocess.run([sys.executable, "-m", "ollama_nb.simulator", "--host", "0.0.0.0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and "127.0.0.1" in result.stderr
