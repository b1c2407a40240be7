"""Ollama as it is in 2026 (client side): logprobs, tool-call ids, think levels, truncation,
cloud models and sign-in, API keys, busy servers.

Over real sockets: the bundled simulator where it speaks the feature, else ``FixtureServer``, a tiny
HTTP server in this file that replays byte-exact transcripts of a real Ollama (tests/fixtures/ollama_2026/, read through
tests/wire_fixtures.py) and records every request it gets.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

import ollama_nb
from ollama_nb import Client, ServerBusyError, Session, SignInRequiredError, TokenLogprob
from ollama_nb._session import forget_sessions
from ollama_nb.simulator import Simulator
from ollama_nb.view import PlainView
from ollama_nb.view._stream_view import footer_text
from wire_fixtures import CHAT_SCRIPT, catalogue, fixture, go_body

SECRET = "sk-test-0123456789-never-shown"


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


def error_body(case_start: str) -> tuple[int, bytes]:
    """``(status, exact body bytes)`` of an error_bodies_2026.json entry (status 0 where the
    catalogue gives no fixed one, e.g. an upstream status passed through)."""
    entry = catalogue(case_start)
    body = entry["wire"].encode() if "wire" in entry else go_body(entry["body"])
    return (entry["status"] if isinstance(entry["status"], int) else 0), body


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/x-ndjson"


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FixtureServer:
    """Answers each request with the next scripted :class:`Answer` (NDJSON one line per chunk)."""

    answers: list[Answer] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"null")))
                answer = server.answers.pop(0) if server.answers else Answer(500, b'{"error":"no more scripted answers"}')
                self.send_response(answer.status)
                if answer.status != 200:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                    return
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for line in answer.body.splitlines(keepends=True):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.write(b"0\r\n\r\n")

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    s = FixtureServer()
    yield s
    s.close()


@pytest.fixture
def ip(simulator: Simulator) -> Iterator[InteractiveShell]:
    """IPython with the extension loaded, talking to the simulator (model llama3.2)."""
    forget_sessions()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "ollama_nb")
    magics = shell.magics_manager.registry["OllamaMagics"]
    magics.host, magics.model = simulator.url, "llama3.2"
    yield shell
    shell.run_line_magic("unload_ext", "ollama_nb")
    forget_sessions()


def without_stream(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "stream"}


# --- log-probabilities ------------------------------------------------------------------------------
def test_chat_logprobs_are_requested_as_ollama_documents_and_carried_exactly(server: FixtureServer) -> None:
    server.answers.append(Answer(body=fixture("derived_wire_chat_stream_logprobs.ndjson")))
    request = fixture_json("derived_wire_chat_request_logprobs.json")
    with Client(server.url) as client:
        reply = client.chat(request["model"], request["messages"], logprobs=True, top_logprobs=2)
        text = reply.read()
    assert without_stream(server.seen[0].body) == request
    assert text == "<b>Hi</b>"
    assert [(t.token, t.logprob, t.bytes) for t in reply.logprobs] == [
        ("<b>", -0.1053, (60, 98, 62)),
        ("Hi", -2.3841855e-7, (72, 105)),
        ("</b>", -0.0009, (60, 47, 98, 62)),
    ]
    assert reply.logprobs[1].top_logprobs == (
        TokenLogprob("Hi", -2.3841855e-7, (72, 105)),
        TokenLogprob("hi", -15.31, (104, 105)),
    )
    frame = reply.logprobs_frame()
    assert list(frame.columns) == ["token", "logprob", "probability", "bytes", "top_tokens", "top_logprobs"]
    assert frame["token"].tolist() == ["<b>", "Hi", "</b>"]
    assert frame["top_tokens"][0] == ["<b>", "<strong>"] and frame["top_logprobs"][2] == [-0.0009, -7.25]
    assert frame["probability"][1] == pytest.approx(1.0)


def test_generate_logprobs_without_alternatives_and_a_length_cut(server: FixtureServer) -> None:
    server.answers.append(Answer(body=fixture("derived_wire_generate_stream_logprobs.ndjson")))
    request = fixture_json("derived_wire_generate_request_logprobs.json")
    params = {k: v for k, v in request.items() if k not in ("model", "prompt")}
    with Client(server.url) as client:
        reply = client.generate(request["model"], request["prompt"], **params)
        assert reply.read() == "The sky"
    assert without_stream(server.seen[0].body) == request
    assert [(t.token, t.logprob, t.top_logprobs) for t in reply.logprobs] == [("The", -0.0512, ()), (" sky", -0.2231, ())]
    assert reply.done_reason == "length"


def test_chunks_carry_their_own_logprobs_and_the_summary_chunk_all_of_them(server: FixtureServer) -> None:
    server.answers.append(Answer(body=fixture("derived_wire_chat_stream_logprobs.ndjson")))
    with Client(server.url) as client:
        reply = client.chat("llama3.2", [{"role": "user", "content": "x"}], logprobs=True)
        per_chunk = [[t.token for t in chunk.logprobs] for chunk in reply]
    assert per_chunk == [["<b>"], ["Hi"], ["</b>"], []]  # the done chunk carries none
    assert [t.token for t in next(iter(reply)).logprobs] == ["<b>", "Hi", "</b>"]


def test_a_malformed_logprobs_entry_is_skipped_and_the_text_is_kept(server: FixtureServer) -> None:
    """A logprob that is not a number (or bytes that are not ints) costs that entry, not the reply."""
    lines = [
        {"model": "m", "message": {"role": "assistant", "content": "A"}, "done": False,
         "logprobs": [{"token": "A", "logprob": "n/a"}]},
        {"model": "m", "message": {"role": "assistant", "content": "B"}, "done": False,
         "logprobs": [{"token": "B", "logprob": -0.5, "bytes": ["x"]}, {"token": "b", "logprob": [-1]}]},
        {"model": "m", "message": {"role": "assistant", "content": "C"}, "done": False,
         "logprobs": [{"token": "C", "logprob": -0.25}]},
        {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"},
    ]
    server.answers.append(Answer(body=b"".join(json.dumps(line).encode() + b"\n" for line in lines)))
    with Client(server.url) as client:
        reply = client.chat("m", [{"role": "user", "content": "x"}], logprobs=True)
        assert reply.read() == "ABC"
    assert reply.error is None and not reply.stopped and reply.done_reason == "stop"
    assert [(t.token, t.logprob) for t in reply.logprobs] == [("C", -0.25)]


def test_logprob_values_from_the_simulator_are_carried_exactly(simulator: Simulator) -> None:
    with Client(simulator.url) as client:
        reply = client.generate("llama3.2", f"bold hi {CHAT_SCRIPT}", logprobs=True, top_logprobs=2)
        assert reply.read() == "<b>Hi</b>"
    assert [(t.token, t.logprob, t.bytes) for t in reply.logprobs] == [
        ("<b>", -0.1053, (60, 98, 62)), ("Hi", -2.3841855e-7, (72, 105)), ("</b>", -0.0009, (60, 47, 98, 62))]
    assert [[(a.token, a.logprob) for a in t.top_logprobs] for t in reply.logprobs][2] == [("</b>", -0.0009), ("!", -7.25)]
    from ollama_nb.view import logprobs_bundle

    html = logprobs_bundle(reply)["text/html"]  # what %%ollama --logprobs shows
    assert html.count("<span ") == 3 and "&lt;b&gt;" in html and "<b>" not in html and "<script" not in html
    assert "&quot;&lt;strong&gt;&quot;" in html  # an alternative, escaped inside the title attribute


def test_the_logprobs_magic_shows_the_tokens_shaded_and_escaped_and_o_keeps_the_text(
    ip: InteractiveShell, simulator: Simulator, capsys: Any
) -> None:
    result = ip.run_cell(f"%%ollama --logprobs 2 -o out\nbold hi {CHAT_SCRIPT}")
    assert result.success and ip.user_ns["out"] == "<b>Hi</b>"
    assert '[logprobs] 3 tokens · least likely: "<b>" 90.0%, "</b>" 99.9%, "Hi" 100.0%' in capsys.readouterr().out


# --- tool calls with ids -----------------------------------------------------------------------------
def get_weather(city: str) -> str:
    """Get the current weather for a city

    Args:
        city: City name
    """
    return {"Paris": "18C, clear", "Tokyo": "24C, humid"}[city]


def test_parallel_tool_calls_are_run_and_answered_in_order_with_their_ids(server: FixtureServer) -> None:
    server.answers += [
        Answer(body=fixture("derived_wire_chat_stream_tool_calls_parallel.ndjson")),
        Answer(body=fixture("derived_wire_chat_stream_tool_result_answer.ndjson")),
    ]
    session = Session(model="qwen3", host=server.url)
    reply = session.chat("What is the weather in Paris and Tokyo?", tools=[get_weather], think=False)
    reply.read()
    assert [(c.id, c.index, c.arguments) for c in reply.tool_calls[:2]] == [
        ("call_k3x9q2mz", 0, {"city": "Paris"}),
        ("call_7hd0w1pa", 1, {"city": "Tokyo"}),
    ]
    # the follow-up request is the fixture, byte for byte as JSON: ids echoed, tool_call_id on results
    assert without_stream(server.seen[1].body) == fixture_json("derived_wire_chat_request_tool_results.json")
    assert [m.get("tool_call_id") for m in session.history if m["role"] == "tool"] == ["call_k3x9q2mz", "call_7hd0w1pa"]


def test_several_calls_in_one_chunk_are_run_in_order(server: FixtureServer) -> None:
    first, second, done = fixture("derived_wire_chat_stream_tool_calls_parallel.ndjson").splitlines()
    one = json.loads(first)
    one["message"]["tool_calls"] += json.loads(second)["message"]["tool_calls"]
    server.answers += [
        Answer(body=json.dumps(one, separators=(",", ":")).encode() + b"\n" + done + b"\n"),
        Answer(body=fixture("derived_wire_chat_stream_tool_result_answer.ndjson")),
    ]
    reply = Session(model="qwen3", host=server.url).chat("Paris and Tokyo?", tools=[get_weather])
    reply.read()
    assert [(r.call.id, r.content) for r in reply.tool_results] == [("call_k3x9q2mz", "18C, clear"), ("call_7hd0w1pa", "24C, humid")]
    tool_messages = [m for m in server.seen[1].body["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [("call_k3x9q2mz", "18C, clear"), ("call_7hd0w1pa", "24C, humid")]


def test_tool_calls_that_arrive_only_on_the_done_chunk_are_run(server: FixtureServer) -> None:
    server.answers += [
        Answer(body=fixture("derived_wire_chat_stream_tool_calls_native.ndjson")),
        Answer(body=fixture("derived_wire_chat_stream_tool_result_answer.ndjson")),
    ]
    reply = Session(model="qwen3", host=server.url).chat("Paris?", tools=[get_weather])
    reply.read()
    assert reply.tool_results and reply.tool_results[0].call.name == "get_weather"
    assert server.seen[1].body["messages"][-1]["tool_call_id"] == reply.tool_calls[0].id


# --- think levels and truncation ---------------------------------------------------------------------
@pytest.mark.parametrize("level", ["low", "medium", "high", "max", "extra-careful"])
def test_any_think_level_passes_through_unchanged(simulator: Simulator, level: str) -> None:
    with Client(simulator.url) as client:
        try:
            client.chat("qwen3", [{"role": "user", "content": "x"}], think=level).read()
        except ollama_nb.ResponseError:
            pass  # the simulator may refuse a level; what was sent is the point here
    assert simulator.requests[-1].body["think"] == level


def test_ollamas_error_for_a_bad_think_value_is_one_line_and_says_what_to_use(server: FixtureServer) -> None:
    status, body = error_body("think is a string other than")
    server.answers.append(Answer(status, body))
    with Client(server.url) as client, pytest.raises(ollama_nb.ResponseError) as info:
        client.chat("qwen3", [{"role": "user", "content": "x"}], think="extreme").read()
    first, hint = str(info.value).splitlines()
    assert 'invalid think value: "extreme"' in first and "low, medium, high, max" in hint


def test_a_prompt_that_does_not_fit_with_truncate_false_is_llama_servers_message_in_one_line(simulator: Simulator) -> None:
    with Client(simulator.url) as client, pytest.raises(ollama_nb.ResponseError) as info:
        client.generate("llama3.2", "word " * 200, truncate=False, options={"num_ctx": 64}).read()
    first, hint = str(info.value).splitlines()
    # Ollama wraps llama-server's own JSON body in its "error" text: the message is unwrapped
    assert first.endswith("answered 400: request (251 tokens) exceeds the available context size (64 tokens), try increasing it")
    assert "truncate=False" in hint and "num_ctx" in hint


def test_truncate_and_shift_false_are_sent(simulator: Simulator) -> None:
    with Client(simulator.url) as client:
        client.generate("llama3.2", "x", truncate=False, shift=False).read()
    body = simulator.requests[-1].body
    assert body["truncate"] is False and body["shift"] is False


# --- cloud models, sign-in and the API key -------------------------------------------------------------
def test_a_remote_model_is_named_on_the_reply_and_in_the_footer(server: FixtureServer) -> None:
    server.answers.append(Answer(body=fixture("derived_wire_chat_stream_remote.ndjson")))
    with Client(server.url) as client:
        reply = client.chat("my-gptoss", [{"role": "user", "content": "hi"}])
        assert reply.read() == "Hello!"
    assert (reply.remote_model, reply.remote_host) == ("gpt-oss:120b", "https://ollama.com:443")
    assert "via gpt-oss:120b at https://ollama.com:443" in footer_text(reply)


def test_a_401_says_to_sign_in_and_shows_the_sign_in_url_from_the_body(server: FixtureServer) -> None:
    status, body = error_body("explicit cloud model, signing fails but the public key is readable")
    assert b"\\u0026" in body  # the exact wire bytes, & escaped as Go writes it
    server.answers.append(Answer(status, body))
    with Client(server.url) as client, pytest.raises(SignInRequiredError) as info:
        client.chat("gpt-oss:120b-cloud", [{"role": "user", "content": "hi"}]).read()
    url = "https://ollama.com/connect?name=my-laptop&key=c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUVYQU1QTEVLRVk"
    assert info.value.signin_url == url and info.value.status_code == 401
    lines = str(info.value).splitlines()
    assert len(lines) == 2 and "answered 401: unauthorized" in lines[0]
    assert "`ollama signin`" in lines[1] and url in lines[1]


def test_the_api_key_is_sent_as_a_bearer_token_as_ollama_python_does(monkeypatch: Any) -> None:
    # the simulator with api_key= acts like https://ollama.com: every /api/ request needs the bearer key
    with Simulator(api_key=SECRET) as sim:
        monkeypatch.setenv("OLLAMA_API_KEY", SECRET)
        with Client(sim.url) as client:
            assert client.generate("llama3.2", "hi [[tokens=2]]").read()
        with Client(sim.url, headers={"Authorization": "Bearer mine"}) as client:  # a caller's header wins
            with pytest.raises(SignInRequiredError, match="OLLAMA_API_KEY"):
                client.generate("llama3.2", "hi").read()
        monkeypatch.delenv("OLLAMA_API_KEY")
        with Client(sim.url) as client, pytest.raises(SignInRequiredError, match="ollama signin") as info:
            client.generate("llama3.2", "hi").read()
        assert info.value.signin_url is None
        assert [r.has_authorization for r in sim.requests] == [True, True, False]


def test_the_api_key_is_never_shown_saved_or_recorded(server: FixtureServer, monkeypatch: Any, tmp_path: Path, capsys: Any) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", SECRET)
    status, body = error_body("explicit cloud model (name ends in :cloud or -cloud), local request signing fails")
    server.answers += [Answer(body=fixture("derived_wire_chat_stream_remote.ndjson")), Answer(status, body)]
    session = Session(model="my-gptoss", host=server.url)
    reply = session.chat("hi")
    reply.read()
    with pytest.raises(SignInRequiredError) as info:
        session.chat("again").read()
    assert server.seen[0].headers["authorization"] == f"Bearer {SECRET}"
    assert "OLLAMA_API_KEY" in str(info.value)  # names the variable, never its value
    session.save(tmp_path / "s.json")
    view = PlainView(model="my-gptoss")
    view.finish(reply)
    shown = [repr(session), repr(session.client), repr(reply), str(info.value),
             repr(info.value), json.dumps(reply.body), (tmp_path / "s.json").read_text(), capsys.readouterr().out]
    assert all(SECRET not in text for text in shown)


def test_the_api_key_stays_out_of_notebook_output(ip: InteractiveShell, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", SECRET)
    with Simulator(api_key=SECRET) as sim:
        ip.magics_manager.registry["OllamaMagics"].host = sim.url
        assert ip.run_cell("%%ollama -o out\nhello").success  # the key was sent: the gate let it in
        assert ip.run_cell("%%ollama -m no-such-model\nhello").error_in_exec is not None
        assert [r.has_authorization for r in sim.requests] == [True, True]
    assert SECRET not in capsys.readouterr().out + ip.user_ns["out"]


# --- busy servers ------------------------------------------------------------------------------------
def test_a_503_before_the_first_byte_is_retried_and_the_reply_then_streams(server: FixtureServer) -> None:
    status, body = error_body("scheduler queue full")
    server.answers += [Answer(status, body), Answer(body=fixture("derived_wire_chat_stream_remote.ndjson"))]
    with Client(server.url, backoff=0.0) as client:
        assert client.chat("my-gptoss", [{"role": "user", "content": "hi"}]).read() == "Hello!"
    assert len(server.seen) == 2  # retried once, counted at the server


def test_a_429_that_persists_is_one_clear_line_after_the_retries(server: FixtureServer) -> None:
    _, body = error_body("legacy remote model, upstream answers another 4xx/5xx")
    body = body.replace(b"<upstream error text>", b"too many requests")
    server.answers += [Answer(429, body)] * 4
    with Client(server.url, retries=3, backoff=0.0) as client, pytest.raises(ServerBusyError) as info:
        client.generate("my-gptoss", "hi").read()
    assert len(server.seen) == 4 and info.value.attempts == 4 and info.value.status_code == 429
    first, hint = str(info.value).splitlines()
    assert first.endswith("is busy (429: too many requests), still after 4 tries.") and hint.startswith("Wait a moment")


# --- the same against the simulator (it speaks Ollama 2026) ----------------------------------------------
def test_simulator_busy_answers_are_retried_and_counted_at_the_server(simulator: Simulator) -> None:
    simulator.refuse_next(2)
    with Client(simulator.url, retries=2, backoff=0.0) as client:
        assert client.chat("llama3.2", [{"role": "user", "content": "hi [[tokens=2]]"}]).read()
        assert [e.kind for e in simulator.events].count("refused") == 2
        simulator.refuse_next(3, status=429)
        with pytest.raises(ServerBusyError) as info:
            client.generate("llama3.2", "hi").read()
    assert [e.kind for e in simulator.events].count("refused") == 5
    assert info.value.attempts == 3 and str(info.value).splitlines()[0].endswith("(429: rate limit exceeded), still after 3 tries.")


def test_simulator_signed_out_cloud_model_gives_the_sign_in_url(simulator: Simulator) -> None:
    from ollama_nb.simulator._gate import SIGNIN_URL

    simulator.signed_in = False
    session = Session(model="gpt-oss:120b-cloud", host=simulator.url)
    with pytest.raises(SignInRequiredError) as info:
        session.chat("hi").read()
    assert info.value.signin_url == SIGNIN_URL and SIGNIN_URL in str(info.value)
    assert session.last is not None and session.last.status == "error"


def test_simulator_remote_model_and_parallel_tool_calls_with_ids(simulator: Simulator) -> None:
    with Client(simulator.url) as client:
        reply = client.chat("my-gptoss", [{"role": "user", "content": 'Hi [[script=["Hello!"]]]'}])
        assert reply.read() == "Hello!" and reply.remote_model == "gpt-oss:120b"
    session = Session(model="qwen3", host=simulator.url)
    prompt = '[[tool-path=together]][[tool=get_weather]][[args={"city":"Paris"}]][[tool=get_weather]][[args={"city":"Tokyo"}]]'
    reply = session.chat(f"weather? {prompt}", tools=[get_weather])
    reply.read()
    ids = [c.id for c in reply.tool_calls[:2]]
    assert all(i and i.startswith("call_") for i in ids) and len(set(ids)) == 2
    sent = [m for m in simulator.requests[-1].body["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in sent] == [(ids[0], "18C, clear"), (ids[1], "24C, humid")]


# --- the magics -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%%ollama --logprobs 3", {"logprobs": True, "top_logprobs": 3}),
        ("%%ollama --logprobs", {"logprobs": True}),
        ("%%ollama --no-truncate", {"truncate": False}),
        ("%%ollama --think max", {"think": "max"}),
        ("%%ollama --think=extra-careful", {"think": "extra-careful"}),
    ],
)
def test_magic_flags_reach_the_wire(ip: InteractiveShell, simulator: Simulator, line: str, expected: dict[str, Any]) -> None:
    ip.run_cell(f"{line} -m qwen3\nhello")
    body = simulator.requests[-1].body
    assert {k: body.get(k) for k in ("logprobs", "top_logprobs", "truncate", "think") if k in body} == expected


def test_a_line_magic_tells_an_optional_number_from_the_message(ip: InteractiveShell, simulator: Simulator) -> None:
    ip.run_cell("%ollama_chat --logprobs 2 What is 2+2?")
    ip.run_cell("%ollama_chat --logprobs What is 3+3?")
    first, second = [r.body for r in simulator.requests if r.path == "/api/chat"]
    assert first["top_logprobs"] == 2 and first["messages"][-1]["content"] == "What is 2+2?"
    assert "top_logprobs" not in second and second["logprobs"] is True
    assert second["messages"][-1]["content"] == "What is 3+3?"
