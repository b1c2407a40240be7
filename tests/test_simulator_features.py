"""The simulator speaks Ollama as it is in 2026 (v0.12-v0.33), byte for byte as the DERIVED fixtures show.

Everything runs over real sockets on 127.0.0.1 with httpx. The fixtures (tests/fixtures/ollama_2026, copied
from the shared ollama-api folder) hold made-up values; where the simulator cannot produce them, the test
*adopts* them: ``adopt(ours, theirs, keys)`` copies the fixture's value of each named key (created_at, the
nanosecond metrics, tool-call ids, digests, ...) into our bytes, occurrence by occurrence, and then the
whole line must be equal byte for byte, so key order, escaping and number formatting are still compared.
Every adopted key is named in the test (see tests/wire_fixtures.py). Logprob values, tokens and texts are steered with ``[[script=...]]``
and compared as they are. The cloud side is in test_simulator_cloud.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from wire_fixtures import CHAT_SCRIPT, METRICS, adopt, catalogue, chat, fixture, go_body, http_client, post, with_prompt

from ollama_nb.simulator import Simulator
from ollama_nb.simulator._directives import ScriptToken
from ollama_nb.simulator._logprobs import logprob_entry
from ollama_nb.simulator._wire import go_float


@pytest.fixture
def client(simulator: Simulator) -> Iterator[httpx.Client]:
    with http_client(simulator) as http:
        yield http


# --- logprobs -------------------------------------------------------------------------------
def test_chat_logprobs_stream_is_the_derived_fixture_byte_for_byte(client: httpx.Client) -> None:
    # adopted: created_at and the six metrics; tokens, logprobs, bytes, top_logprobs and escaping are ours
    prompt = "Reply with the word hi in bold HTML"
    body = with_prompt(fixture("derived_wire_chat_request_logprobs.json"), prompt, f"{prompt} {CHAT_SCRIPT}")
    response = post(client, "/api/chat", body)
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-ndjson"
    expected = fixture("derived_wire_chat_stream_logprobs.ndjson")
    assert adopt(response.content, expected, ("created_at", *METRICS)) == expected


def test_generate_logprobs_stream_is_the_derived_fixture_byte_for_byte(client: httpx.Client) -> None:
    # adopted: created_at, context and the metrics; logprobs is the last key, no top_logprobs key at all
    script = ' [[script=[{"token": "The", "logprob": -0.0512}, {"token": " sky", "logprob": -0.2231}, " is"]]]'
    prompt = "Why is the sky blue?"
    body = with_prompt(fixture("derived_wire_generate_request_logprobs.json"), prompt, prompt + script)
    response = post(client, "/api/generate", body)
    expected = fixture("derived_wire_generate_stream_logprobs.ndjson")
    assert adopt(response.content, expected, ("created_at", "context", *METRICS)) == expected


def test_fixture_logprobs_request_as_sent_gives_top_alternatives_on_every_content_chunk(
        client: httpx.Client) -> None:
    response = post(client, "/api/chat", fixture("derived_wire_chat_request_logprobs.json"))
    lines = [json.loads(line) for line in response.content.splitlines()]
    *chunks, done = lines
    assert "logprobs" not in done and done["done"] is True
    for chunk in chunks:
        assert list(chunk) == ["model", "created_at", "message", "done", "logprobs"]
        (entry,) = chunk["logprobs"]
        assert entry["token"] == chunk["message"]["content"]
        assert entry["bytes"] == list(entry["token"].encode("utf-8"))
        assert [list(alt) for alt in entry["top_logprobs"]] == [["token", "logprob", "bytes"]] * 2
        assert entry["top_logprobs"][0] == {k: entry[k] for k in ("token", "logprob", "bytes")}
        assert entry["logprob"] < 0 and entry["top_logprobs"][1]["logprob"] < entry["logprob"]


def test_logprob_values_are_deterministic_and_thinking_chunks_carry_them(client: httpx.Client) -> None:
    body = chat("x [[tokens=3]]", model="qwen3", think="low", logprobs=True)
    first, second = post(client, "/api/chat", body).content, post(client, "/api/chat", body).content
    assert adopt(first, second, ("created_at", *METRICS)) == second
    lines = [json.loads(line) for line in first.splitlines()]
    thinking = [line for line in lines if line["message"].get("thinking")]
    assert len(thinking) == 8 and all(len(line["logprobs"]) == 1 for line in thinking)
    assert all("top_logprobs" not in line["logprobs"][0] for line in lines[:-1])


def test_without_logprobs_true_no_chunk_has_logprobs_even_with_top_logprobs(client: httpx.Client) -> None:
    response = post(client, "/api/generate", {"model": "llama3.2", "prompt": "x [[tokens=3]]", "top_logprobs": 5})
    assert b"logprobs" not in response.content


@pytest.mark.parametrize("path", ["/api/chat", "/api/generate"])
def test_stream_false_joins_all_logprobs_where_go_puts_them(client: httpx.Client, path: str) -> None:
    body: dict[str, Any] = {"model": "llama3.2", "stream": False, "logprobs": True, "top_logprobs": 3}
    body.update(chat("x [[tokens=4]]") if path == "/api/chat" else {"prompt": "x [[tokens=4]]"})
    reply = json.loads(post(client, path, body).content)
    keys = list(reply)
    if path == "/api/chat":
        assert keys[keys.index("done_reason") + 1] == "logprobs" and keys[-1] == "eval_duration"
        text = reply["message"]["content"]
    else:
        assert keys[-1] == "logprobs"
        text = reply["response"]
    assert len(reply["logprobs"]) == 4 and "".join(e["token"] for e in reply["logprobs"]) == text
    assert all(len(e["top_logprobs"]) == 3 for e in reply["logprobs"])


@pytest.mark.parametrize("value", [21, -1, 1000])
def test_top_logprobs_out_of_range_is_ollamas_400(client: httpx.Client, value: int) -> None:
    expected = go_body(catalogue("top_logprobs out of range", "error_bodies.json")["body"])
    for path, body in (("/api/chat", chat("hi")), ("/api/generate", {"model": "llama3.2", "prompt": "hi"})):
        response = post(client, path, {**body, "logprobs": True, "top_logprobs": value})
        assert (response.status_code, response.content) == (400, expected)
    assert post(client, "/api/chat", chat("hi [[tokens=1]]", logprobs=True, top_logprobs=20)).status_code == 200


def test_logprobs_fields_with_wrong_json_types_get_gos_unmarshal_errors(client: httpx.Client) -> None:
    wrong = post(client, "/api/chat", chat("hi", top_logprobs=1.5))
    assert wrong.json() == {"error": "json: cannot unmarshal number 1.5 into Go struct field "
                                     "ChatRequest.top_logprobs of type int"}
    wrong = post(client, "/api/generate", {"model": "llama3.2", "prompt": "hi", "logprobs": "yes"})
    assert wrong.json() == {"error": "json: cannot unmarshal string into Go struct field "
                                     "GenerateRequest.logprobs of type bool"}


def test_go_float_formatting_and_bytes_of_an_empty_token() -> None:
    assert [go_float(x) for x in (-2.3841855e-07, -0.1053, -15.31, -1.0, -1e-06, -5e-324)] == [
        b"-2.3841855e-7", b"-0.1053", b"-15.31", b"-1", b"-0.000001", b"-5e-324"]
    assert logprob_entry("", 0, 0, ScriptToken("", -0.5)) == b'{"token":"","logprob":-0.5}'
    entry = json.loads(logprob_entry("é", 0, 2, ScriptToken("é", -0.5, (("é", -0.5),))))
    assert entry["bytes"] == [195, 169] and len(entry["top_logprobs"]) == 2  # padded with a generated one


# --- tool calls with ids --------------------------------------------------------------------
WEATHER_PROMPT = "What is the weather in Paris and Tokyo?"


def tool_request(directives: str, model: str = "qwen3") -> bytes:
    request = json.loads(fixture("derived_wire_chat_request_tool_results.json"))
    body = {"model": model, "messages": [{"role": "user", "content": f"{WEATHER_PROMPT} {directives}"}],
            "tools": request["tools"], "think": False}
    return json.dumps(body).encode()


def test_parallel_tool_calls_are_the_derived_fixture_one_chunk_each(client: httpx.Client) -> None:
    # adopted: created_at, metrics and the two ids (checked first: call_ + 8 of [a-z0-9], distinct)
    body = tool_request('[[tool=get_weather]][[args={"city":"Paris"}]][[tool=get_weather]][[args={"city":"Tokyo"}]]')
    content = post(client, "/api/chat", body).content
    ids = re.findall(rb'"id":"([^"]*)"', content)
    assert len(ids) == 2 and len(set(ids)) == 2 and all(re.fullmatch(rb"call_[a-z0-9]{8}", i) for i in ids)
    expected = fixture("derived_wire_chat_stream_tool_calls_parallel.ndjson")
    assert adopt(content, expected, ("created_at", "id", *METRICS)) == expected


def test_tool_results_with_tool_call_ids_are_answered_as_the_derived_fixture(client: httpx.Client,
                                                                            simulator: Simulator) -> None:
    # the fixture request exactly as a client sends it; adopted: created_at and metrics
    response = post(client, "/api/chat", fixture("derived_wire_chat_request_tool_results.json"))
    expected = fixture("derived_wire_chat_stream_tool_result_answer.ndjson")
    assert adopt(response.content, expected, ("created_at", *METRICS)) == expected
    body = simulator.requests[-1].body
    assert body is not None and [m.get("tool_call_id") for m in body["messages"]][2:] == [
        "call_k3x9q2mz", "call_7hd0w1pa"]


def test_native_path_sends_tool_calls_only_on_the_done_chunk(client: httpx.Client) -> None:
    # adopted: created_at, metrics and the id, which is llama-server's (32 of [0-9A-Za-z]) and not in Ollama
    body = tool_request('[[tool-path=native]][[tool=get_weather]][[args={"city":"Paris"}]]', model="my-gguf-import")
    content = post(client, "/api/chat", body).content
    (ident,) = re.findall(rb'"id":"([^"]*)"', content)
    assert re.fullmatch(rb"[0-9A-Za-z]{32}", ident)
    expected = fixture("derived_wire_chat_stream_tool_calls_native.ndjson")
    assert adopt(content, expected, ("created_at", "id", *METRICS)) == expected


def test_together_path_puts_several_calls_in_one_chunk_indexed_from_0(client: httpx.Client) -> None:
    body = tool_request('[[tool-path=together]][[tool=get_weather]][[tool=get_weather]][[args={"city":"Oslo"}]]')
    lines = [json.loads(line) for line in post(client, "/api/chat", body).content.splitlines()]
    assert len(lines) == 2
    calls = lines[0]["message"]["tool_calls"]
    assert [c["function"]["index"] for c in calls] == [0, 1]
    assert [c["function"]["arguments"] for c in calls] == [{"city": "Oslo"}, {"city": "Oslo"}]


def test_generate_sends_tool_calls_on_the_done_chunk_without_id(client: httpx.Client) -> None:
    body = {"model": "qwen3", "prompt": 'weather [[tool=get_weather]][[args={"city":"Paris"}]]', "think": False}
    lines = post(client, "/api/generate", body).content.splitlines()
    assert len(lines) == 1
    done = json.loads(lines[0])
    assert list(done)[-1] == "tool_calls" and list(done)[list(done).index("eval_duration") + 1] == "tool_calls"
    assert done["tool_calls"] == [{"function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}}]


def test_bad_tool_path_is_reported(client: httpx.Client) -> None:
    response = post(client, "/api/chat", chat("x [[tool-path=sideways]]"))
    assert response.status_code == 400 and "rendered, together, native" in response.json()["error"]


# --- think values ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/chat", "/api/generate"])
def test_think_values_accepted_and_rejected_exactly_as_ollama(client: httpx.Client, path: str) -> None:
    def ask(model: str, think: Any) -> httpx.Response:
        body = chat("x [[tokens=1]]", model) if path == "/api/chat" else {"model": model, "prompt": "x [[tokens=1]]"}
        return post(client, path, {**body, "think": think})

    for value in (None, True, False, "low", "medium", "high", "max"):
        assert ask("qwen3", value).status_code == 200, value
    bad_string = catalogue("think is a string other than")["body"]["error"]
    for value in ("extreme", "", "HIGH", "Max", "true"):
        response = ask("qwen3", value)
        expected = bad_string.replace('"extreme"', json.dumps(value))
        assert (response.status_code, response.json()) == (400, {"error": expected}), value
    wrong_type = go_body(catalogue("think is a number, object or array")["body"])
    for value in (1, 0, 1.5, {}, {"level": "low"}, [], ["low"]):
        assert (ask("qwen3", value).status_code, ask("qwen3", value).content) == (400, wrong_type), value
    cannot = go_body(catalogue("think true or any level sent to a model without")["body"])
    for value in (True, "low", "max"):
        assert (ask("llama3.2", value).status_code, ask("llama3.2", value).content) == (400, cannot)
    assert ask("llama3.2", False).status_code == 200


def test_think_level_request_from_the_docs_streams_thinking(client: httpx.Client) -> None:
    response = post(client, "/api/chat", fixture("chat_think_level_request_openapi.json"))
    lines = [json.loads(line) for line in response.content.splitlines()]
    assert sum(bool(line["message"].get("thinking")) for line in lines) == 8  # "low": 8 thinking chunks


def test_tags_list_capabilities_so_a_client_can_tell_who_thinks(client: httpx.Client) -> None:
    models = {m["name"]: m for m in client.get("/api/tags").json()["models"]}
    assert "thinking" in models["qwen3:latest"]["capabilities"]
    assert "thinking" not in models["llama3.2:latest"]["capabilities"]


# --- truncate / shift -----------------------------------------------------------------------
LONG = "word " * 200  # about 250 simulated tokens


def test_truncate_false_with_a_prompt_that_does_not_fit_is_the_stand_in_llama_server_error(
        client: httpx.Client) -> None:
    # the text is "unconfirmed" in the catalogue; the simulator's stand-in is documented in _limits
    entry = catalogue("truncate:false and the prompt does not fit")
    assert entry["body_pattern"].startswith('{"error":"<llama-server error')
    for path, body in (("/api/chat", chat(LONG)), ("/api/generate", {"model": "llama3.2", "prompt": LONG})):
        response = post(client, path, {**body, "truncate": False, "options": {"num_ctx": 64}})
        assert response.status_code == 400
        assert response.content == (
            b'{"error":"{\\"error\\":{\\"message\\":\\"request (251 tokens) exceeds the available context size '
            b'(64 tokens), try increasing it\\"}}"}')
    fits = post(client, "/api/chat", {**chat("short [[tokens=1]]"), "truncate": False, "options": {"num_ctx": 64}})
    assert fits.status_code == 200


def test_shift_false_and_a_last_message_too_long_is_ollamas_400_but_old_history_is_dropped(
        client: httpx.Client) -> None:
    expected = go_body(catalogue("prompt still longer than num_ctx-1")["body"])
    response = post(client, "/api/chat", {**chat(LONG), "shift": False, "options": {"num_ctx": 64}})
    assert (response.status_code, response.content) == (400, expected)
    history = [{"role": "user", "content": LONG}, {"role": "assistant", "content": LONG},
               {"role": "user", "content": "short [[tokens=1]]"}]
    dropped = post(client, "/api/chat", {"model": "llama3.2", "messages": history, "shift": False,
                                         "options": {"num_ctx": 64}})
    assert dropped.status_code == 200
    shifted = post(client, "/api/chat", {**chat(LONG + "[[tokens=1]]"), "options": {"num_ctx": 64}})
    assert shifted.status_code == 200  # truncate and shift default to true: the context shifts


def test_truncate_and_shift_must_be_booleans(client: httpx.Client) -> None:
    response = post(client, "/api/generate", {"model": "llama3.2", "prompt": "x", "truncate": "no"})
    assert response.json() == {"error": "json: cannot unmarshal string into Go struct field "
                                        "GenerateRequest.truncate of type bool"}




@pytest.mark.parametrize("directive", ['[[script={"a": 1}]]', '[[script=[{"token": "a", "logprob": 0.5}]]]',
                                       '[[script=[{"token": "a", "top": [{"token": "b"}]}]]]', "[[script=[1]]]",
                                       "[[script=[\"a\"]"])
def test_bad_script_directives_are_reported(client: httpx.Client, directive: str) -> None:
    response = post(client, "/api/chat", chat(f"x {directive}"))
    assert response.status_code == 400 and "[[script=...]]" in response.json()["error"]
