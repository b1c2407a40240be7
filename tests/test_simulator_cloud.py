"""The simulator's 2026 cloud side over real sockets: cloud and legacy remote models, /api/tags and
/api/show v0.30 shapes, /api/status, sign-in and API-key 401s, busy servers. Made-up fixture values are
adopted by name (see tests/wire_fixtures.py); everything else is compared byte for byte.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from wire_fixtures import METRICS, adopt, catalogue, chat, fixture, go_body, http_client, post

from ollama_nb.simulator import Simulator


@pytest.fixture
def client(simulator: Simulator) -> Iterator[httpx.Client]:
    with http_client(simulator) as http:
        yield http


# --- cloud, remote models, auth ---------------------------------------------------------------
def test_cloud_names_work_through_the_local_server_and_are_never_in_ps(client: httpx.Client) -> None:
    for name in ("gpt-oss:120b-cloud", "kimi-k2:cloud"):
        lines = post(client, "/api/chat", {**chat("hi [[tokens=2]]", name), "think": False}).content.splitlines()
        first = json.loads(lines[0])
        assert len(lines) == 3 and list(first)[:2] == ["model", "created_at"] and first["model"] == name
    assert client.get("/api/ps").json() == {"models": []}


def test_remote_model_stream_carries_remote_model_and_host_like_the_fixture(client: httpx.Client) -> None:
    # adopted: created_at, metrics, and on the first line the thinking text (ours is simulated thinking)
    body = chat('Hi [[script=["Hello!"]]]', "my-gptoss", think="low")
    lines = post(client, "/api/chat", body).content.splitlines(keepends=True)
    expected = fixture("derived_wire_chat_stream_remote.ndjson").splitlines(keepends=True)
    assert len(lines) == 8 + 2  # 8 thinking chunks ("low"), one content chunk, done
    assert adopt(lines[0], expected[0], ("created_at", "thinking")) == expected[0]
    assert adopt(b"".join(lines[-2:]), b"".join(expected[1:]), ("created_at", *METRICS)) == b"".join(expected[1:])


def test_remote_model_without_stream_is_json_with_a_trailing_newline(client: httpx.Client) -> None:
    response = post(client, "/api/generate", {"model": "my-gptoss", "prompt": "x [[tokens=1]]", "stream": False})
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.content.endswith(b"}\n")
    assert list(json.loads(response.content))[:4] == ["model", "remote_model", "remote_host", "created_at"]


def test_tags_entries_are_the_derived_fixture_v030_shape(client: httpx.Client) -> None:
    # my-gptoss: adopted modified_at only. llama3.2: adopted modified_at, digest and context_length
    # (the simulator keeps 8192 for local models on purpose); everything else byte for byte
    ours = {m["name"]: m for m in client.get("/api/tags").json()["models"]}
    theirs = {m["name"]: m for m in json.loads(fixture("derived_wire_tags_response.json"))["models"]}
    remote, expected = go_body(ours["my-gptoss:latest"]), go_body(theirs["my-gptoss:latest"])
    assert adopt(remote, expected, ("modified_at",)) == expected
    local, expected = go_body(ours["llama3.2:latest"]), go_body(theirs["llama3.2:latest"])
    assert adopt(local, expected, ("modified_at", "digest", "context_length")) == expected


def test_show_of_a_remote_model_is_the_derived_fixture(client: httpx.Client) -> None:
    # adopted: modified_at only
    response = post(client, "/api/show", {"model": "my-gptoss"})
    expected = fixture("derived_wire_show_remote_response.json")
    assert adopt(response.content, expected, ("modified_at",)) == expected


def test_status_reports_cloud_on_or_off(client: httpx.Client, simulator: Simulator) -> None:
    assert client.get("/api/status").content == fixture("derived_wire_status_response.json")
    simulator.cloud_disabled = True
    assert client.get("/api/status").content == b'{"cloud":{"disabled":true,"source":"env"}}'
    expected = go_body(catalogue("cloud disabled")["body"])
    for name in ("gpt-oss:120b-cloud", "my-gptoss"):
        response = post(client, "/api/chat", chat("hi", name))
        assert (response.status_code, response.content) == (403, expected)
    show = post(client, "/api/show", {"model": "my-gptoss"})
    assert (show.status_code, show.content) == (403, go_body(catalogue("cloud disabled")["alt_body"]))
    assert post(client, "/api/chat", chat("hi [[tokens=1]]")).status_code == 200  # local models still work
    assert client.post("/api/status").status_code == 405


def test_signed_out_cloud_and_remote_models_get_401_with_the_signin_url(simulator: Simulator) -> None:
    simulator.signed_in = False
    wire = catalogue("explicit cloud model, signing fails but the public key")["wire"].encode()
    with httpx.Client(base_url=simulator.url, timeout=10) as http:
        cloud = post(http, "/api/chat", chat("hi", "gpt-oss:120b-cloud"))
        assert (cloud.status_code, cloud.content) == (401, wire)
        remote = post(http, "/api/chat", chat("hi", "my-gptoss"))
        assert (remote.status_code, remote.content) == (401, wire)
        assert remote.headers["content-type"] == "application/x-ndjson"
        remote = post(http, "/api/generate", {"model": "my-gptoss", "prompt": "hi", "stream": False})
        assert remote.headers["content-type"] == "application/json; charset=utf-8"
        show = post(http, "/api/show", {"model": "gpt-oss:120b-cloud"})
        assert (show.status_code, show.content, show.headers["content-type"]) == (
            401, wire, "application/json; charset=utf-8")
        assert post(http, "/api/chat", chat("hi [[tokens=1]]")).status_code == 200  # local models still work
        simulator.signed_in = True
        assert post(http, "/api/chat", chat("hi [[tokens=1]]", "gpt-oss:120b-cloud")).status_code == 200


API_KEY = "sk-simulated-0123456789abcdef"


def test_api_key_mode_acts_like_ollama_com_and_never_keeps_the_key() -> None:
    with Simulator(api_key=API_KEY) as sim, httpx.Client(base_url=sim.url, timeout=10) as http:
        body = fixture("cloud_api_generate_request.json")
        missing = http.post("/api/generate", content=body)
        wrong = http.post("/api/generate", content=body, headers={"Authorization": "Bearer sk-wrong"})
        right = http.post("/api/generate", content=body, headers={"Authorization": f"Bearer {API_KEY}"})
        tags = http.get("/api/tags", headers={"Authorization": f"Bearer {API_KEY}"})
        assert (missing.status_code, missing.content) == (401, b'{"error":"unauthorized"}')
        assert wrong.status_code == 401 and right.status_code == 200 and tags.status_code == 200
        assert json.loads(right.content)["model"] == "gpt-oss:120b"
        assert [r.has_authorization for r in sim.requests] == [False, True, True, True]
        record = repr(sim.requests) + repr(sim.events) + repr(sim)
        assert API_KEY not in record and "sk-wrong" not in record
        assert all("authorization" not in r.headers for r in sim.requests)


# --- busy servers ---------------------------------------------------------------------------
def test_refuse_next_answers_503_then_serves_and_counts_at_the_server(client: httpx.Client,
                                                                      simulator: Simulator) -> None:
    simulator.refuse_next(2)
    simulator.refuse_next(1, status=429)
    busy = go_body(catalogue("scheduler queue full")["body"])
    assert b"again.  maximum" in busy  # two spaces
    answers = [post(client, "/api/chat", chat("hi [[tokens=1]]")) for _ in range(4)]
    assert [(a.status_code, a.content) for a in answers[:3]] == [
        (503, busy), (503, busy), (429, b'{"error":"rate limit exceeded"}')]
    assert answers[3].status_code == 200
    assert [e.kind for e in simulator.events].count("refused") == 3


def test_busy_and_rate_limit_directives_refuse_the_first_n_requests_of_that_prompt(
        client: httpx.Client, simulator: Simulator) -> None:
    prompt = "hi [[busy=2]][[rate-limit=1]][[tokens=1]]"
    statuses = [post(client, "/api/generate", {"model": "llama3.2", "prompt": prompt}).status_code for _ in range(4)]
    assert statuses == [503, 503, 429, 200]
    assert post(client, "/api/generate", {"model": "llama3.2", "prompt": "other [[tokens=1]]"}).status_code == 200
    assert [e.kind for e in simulator.events].count("refused") == 3
    with pytest.raises(ValueError, match="503"):
        simulator.refuse_next(1, status=500)


def test_cli_require_api_key_reads_the_key_from_the_environment_and_never_prints_it() -> None:
    root = Path(__file__).resolve().parents[1]
    missing = subprocess.run([sys.executable, "-m", "ollama_nb.simulator", "--require-api-key", "--port", "0"],
                             cwd=root, capture_output=True, text=True, timeout=20,
                             env={k: v for k, v in os.environ.items() if k != "OLLAMA_API_KEY"})
    assert missing.returncode == 2 and "OLLAMA_API_KEY" in missing.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "ollama_nb.simulator", "--require-api-key", "--signed-out", "--port", str(port)],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OLLAMA_API_KEY": API_KEY},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "requires the bearer key" in banner
        url = f"http://127.0.0.1:{port}/api/tags"
        assert httpx.get(url, timeout=5).status_code == 401
        assert httpx.get(url, timeout=5, headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert API_KEY not in banner + out + err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
