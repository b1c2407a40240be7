"""Embeddings over real sockets: the simulator's /api/embed and /api/embeddings, Client.embed,
Session.embed (batches, hosts, the record as a cache, Stop), Session.search and ``%ollama embed``."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import threading
from typing import Any

import httpx
import pytest

from ollama_nb import AsyncClient, Client, EmbeddingError, Embeddings, Interrupted, MissingExtraError, Record, Session
from ollama_nb.embeddings._embed_session import plan_embedding
from ollama_nb.simulator import Simulator

np = pytest.importorskip("numpy")


def _embed_bodies(sim: Simulator) -> list[dict]:
    return [r.body for r in sim.requests if r.path == "/api/embed"]


# -- the simulator, as the transcripts show ------------------------------------------------------------
def test_embed_answer_has_ollamas_keys_in_order_and_unit_vectors_cut_to_dimensions(simulator: Simulator) -> None:
    body = {"model": "all-minilm", "input": ["Why is the sky blue?", "Why is the grass green?"],
            "keep_alive": "10m", "truncate": False, "dimensions": 4, "options": {"num_ctx": 512}}
    response = httpx.post(simulator.url + "/api/embed", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert not response.content.endswith(b"\n")
    data = json.loads(response.content)
    assert list(data) == ["model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"]
    assert data["model"] == "all-minilm"
    assert [len(v) for v in data["embeddings"]] == [4, 4]
    for vector in data["embeddings"]:
        assert abs(math.sqrt(sum(v * v for v in vector)) - 1) < 1e-5
    assert data["embeddings"][0] != data["embeddings"][1]
    assert data["prompt_eval_count"] == sum(len(t) // 4 + 1 for t in body["input"])


def test_embed_vectors_are_deterministic_and_full_length_without_dimensions(simulator: Simulator) -> None:
    first = httpx.post(simulator.url + "/api/embed", json={"model": "all-minilm", "input": "a cat"}).json()
    again = httpx.post(simulator.url + "/api/embed", json={"model": "all-minilm", "input": ["a cat"]}).json()
    assert first["embeddings"] == again["embeddings"]
    assert len(first["embeddings"][0]) == 384
    big = httpx.post(simulator.url + "/api/embed", json={"model": "all-minilm", "input": "a", "dimensions": 10_000})
    assert len(big.json()["embeddings"][0]) == 384  # no validation: a larger value is ignored


@pytest.mark.parametrize("value", [None, "", []])
def test_embed_with_no_input_answers_an_empty_list_without_durations(simulator: Simulator, value: object) -> None:
    response = httpx.post(simulator.url + "/api/embed", json={"model": "all-minilm", "input": value})
    assert response.content == b'{"model":"all-minilm","embeddings":[]}'


def test_legacy_embeddings_endpoint(simulator: Simulator) -> None:
    response = httpx.post(simulator.url + "/api/embeddings", json={"model": "all-minilm", "prompt": "llamas"})
    data = response.json()
    assert list(data) == ["embedding"] and len(data["embedding"]) == 384
    empty = httpx.post(simulator.url + "/api/embeddings", json={"model": "all-minilm", "prompt": ""})
    assert empty.content == b'{"embedding":[]}'


@pytest.mark.parametrize(("path", "body", "status", "error"), [
    ("/api/embed", {"model": "", "input": "x"}, 404, "model '' not found"),
    ("/api/embed", {"model": "missing-model", "input": "x"}, 404,
     'model "missing-model" not found, try pulling it first'),
    ("/api/embed", {"model": "all-minilm", "input": [1, 2]}, 400, "invalid input type"),
    ("/api/embed", {"model": "all-minilm", "input": "x", "dimensions": "4"}, 400,
     "json: cannot unmarshal string into Go struct field EmbedRequest.dimensions of type int"),
    ("/api/embed", {"model": "llama3.2", "input": "x"}, 501,
     "This server does not support embeddings. Start it with `--embeddings`"),
    ("/api/embed", {"model": "all-minilm", "input": "x" * 4000, "truncate": False}, 400,
     "the input length exceeds the context length"),
    ("/api/embed", {"model": "all-minilm", "input": "x [[nan]]"}, 400, "embedding contains NaN or Inf values"),
    ("/api/embed", {"model": "bad name", "input": "x"}, 400, "invalid model name"),
    ("/api/embeddings", {"model": "", "prompt": "x"}, 400, "model is required"),
    ("/api/embeddings", {"model": "llama3.2", "prompt": "x"}, 500,
     "This server does not support embeddings. Start it with `--embeddings`"),
    ("/api/embeddings", {"model": "all-minilm", "prompt": "x" * 4000}, 500,
     "the input length exceeds the context length"),
])
def test_embed_errors_match_ollamas(simulator: Simulator, path: str, body: dict, status: int, error: str) -> None:
    response = httpx.post(simulator.url + path, json=body)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_a_long_input_is_truncated_by_default(simulator: Simulator) -> None:
    response = httpx.post(simulator.url + "/api/embed", json={"model": "all-minilm", "input": "x" * 4000})
    assert response.status_code == 200
    assert response.json()["prompt_eval_count"] == 512


def test_the_embedding_model_is_listed_and_refuses_chat_and_generate(simulator: Simulator) -> None:
    tags = httpx.get(simulator.url + "/api/tags").json()["models"]
    entry = next(m for m in tags if m["name"] == "nomic-embed-text:latest")
    assert entry["capabilities"] == ["embedding"]
    assert entry["details"]["embedding_length"] == 768
    show = httpx.post(simulator.url + "/api/show", json={"model": "nomic-embed-text"}).json()
    assert show["capabilities"] == ["embedding"]
    chat = httpx.post(simulator.url + "/api/chat", json={"model": "nomic-embed-text",
                                                        "messages": [{"role": "user", "content": "hi"}]})
    assert (chat.status_code, chat.json()) == (400, {"error": '"nomic-embed-text" does not support chat'})
    generate = httpx.post(simulator.url + "/api/generate", json={"model": "nomic-embed-text", "prompt": "hi"})
    assert (generate.status_code, generate.json()) == (400, {"error": '"nomic-embed-text" does not support generate'})


# -- Client.embed --------------------------------------------------------------------------------------------
def test_client_embed_sends_only_the_given_fields_in_go_order(simulator: Simulator) -> None:
    with Client(simulator.url) as client:
        result = client.embed("all-minilm", ["a", "b"], dimensions=8, truncate=False, keep_alive="1m",
                              options={"num_ctx": 256})
        single = client.embed("all-minilm", "c")
    assert isinstance(result, Embeddings)
    assert [len(v) for v in result.vectors] == [8, 8] and len(single.vectors) == 1
    assert result.model == "all-minilm" and result.prompt_eval_count == 2
    assert result.total_duration_s is not None and result.total_duration_s > 0
    bodies = _embed_bodies(simulator)
    assert list(bodies[0]) == ["model", "input", "keep_alive", "truncate", "dimensions", "options"]
    assert bodies[1] == {"model": "all-minilm", "input": "c"}


@pytest.mark.parametrize(("model", "text", "truncate", "expected"), [
    ("llama3.2", "x", None, "model 'llama3.2' cannot make embeddings (Ollama at {url} answered 501); "
                            "use an embedding model such as nomic-embed-text."),
    ("all-minilm", "x" * 4000, False, "an input is longer than 'all-minilm' can read (Ollama at {url}: the input "
                                      "length exceeds the context length); shorten it, or leave truncate on."),
    ("all-minilm", "[[nan]]", None, "'all-minilm' produced NaN or Inf for an input (Ollama at {url}: embedding "
                                    "contains NaN or Inf values); try another model or input."),
    ("missing-model", "x", None, "model 'missing-model' is not on the Ollama server at {url}: "
                                 "`ollama pull missing-model` first."),
])
def test_client_embed_errors_are_one_line(simulator: Simulator, model: str, text: str, truncate: bool | None,
                                          expected: str) -> None:
    with Client(simulator.url) as client, pytest.raises(EmbeddingError) as caught:
        client.embed(model, [text], truncate=truncate)
    assert str(caught.value) == expected.format(url=simulator.url)
    assert "\n" not in str(caught.value)


def test_client_embed_reports_nan_sent_by_a_misbehaving_server() -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    body = b'{"model":"m","embeddings":[[0.5,NaN]]}'

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        conn.sendall(head + body)
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with Client(f"127.0.0.1:{server.getsockname()[1]}") as client, pytest.raises(EmbeddingError, match="NaN"):
            client.embed("m", ["x"])
    finally:
        thread.join(5)
        server.close()


def test_async_client_embed(simulator: Simulator) -> None:
    async def main() -> Embeddings:
        async with AsyncClient(simulator.url) as client:
            return await client.embed("nomic-embed-text", ["a", "b", "c"])

    result = asyncio.run(main())
    assert len(result.vectors) == 3 and len(result.vectors[0]) == 768


# -- Session.embed -------------------------------------------------------------------------------------------
def test_requests_are_batched_and_identical_texts_sent_once(simulator: Simulator) -> None:
    texts = [f"review {i}" for i in range(10)] + ["review 3", "review 0"]
    session = Session(model="all-minilm", host=simulator.url, record=False)
    matrix = session.embed(texts, batch_size=4, dimensions=16, truncate=False)
    assert matrix.dtype == np.float32 and matrix.shape == (12, 16)
    bodies = _embed_bodies(simulator)
    assert len(bodies) == math.ceil(10 / 4)
    unique = [f"review {i}" for i in range(10)]
    assert sorted(b["input"] for b in bodies) == sorted([unique[0:4], unique[4:8], unique[8:10]])  # 2 open at once
    assert all(b["dimensions"] == 16 and b["truncate"] is False for b in bodies)
    np.testing.assert_array_equal(matrix[10], matrix[3])
    single = Client(simulator.url).embed("all-minilm", "review 7", dimensions=16).vectors[0]
    np.testing.assert_allclose(matrix[7], single, rtol=1e-6)


def test_order_is_kept_over_two_hosts() -> None:
    texts = [f"text number {i}" for i in range(40)]
    with Simulator() as one, Simulator() as two:
        session = Session(model="all-minilm", host=one.url, record=False)
        matrix = session.embed(texts, batch_size=3, hosts=[one.url, two.url], concurrency=2)
        sent = {host: [t for b in _embed_bodies(host) for t in b["input"]] for host in (one, two)}
    assert sent[one] and sent[two]
    assert sorted(sent[one] + sent[two]) == sorted(texts)
    with Simulator() as alone:
        expected = Session(model="all-minilm", host=alone.url, record=False).embed(texts)
    np.testing.assert_array_equal(matrix, expected)


def test_the_record_caches_vectors_across_calls_and_sessions(simulator: Simulator, tmp_path) -> None:
    path = tmp_path / "record.db"
    texts = [f"item {i}" for i in range(7)]
    first = Session(model="all-minilm", host=simulator.url, record=Record(path)).embed(texts, batch_size=3)
    assert len(_embed_bodies(simulator)) == 3
    session = Session(model="all-minilm", host=simulator.url, record=Record(path))  # a "restart"
    again = session.embed(texts, batch_size=3)
    assert len(_embed_bodies(simulator)) == 3  # nothing sent
    np.testing.assert_array_equal(first, again)
    more = session.embed(texts + ["item new"], batch_size=3)
    bodies = _embed_bodies(simulator)
    assert len(bodies) == 4 and bodies[-1]["input"] == ["item new"]
    np.testing.assert_array_equal(more[:7], first)
    session.embed(texts, batch_size=3, dimensions=8)  # another config: sent again
    assert len(_embed_bodies(simulator)) == 4 + 3


def test_an_error_fails_the_call_with_the_one_line_error(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url, record=False)
    with pytest.raises(EmbeddingError, match="cannot make embeddings"):
        session.embed(["a", "b"])


def test_a_busy_server_is_retried(simulator: Simulator) -> None:
    simulator.refuse_next(3)  # the client retries twice, the job once more
    matrix = Session(model="all-minilm", host=simulator.url, record=False).embed(["a", "b"])
    assert matrix.shape == (2, 384)
    assert sum(e.kind == "refused" for e in simulator.events) == 3


def test_a_host_that_is_down_leaves_the_rotation(simulator: Simulator) -> None:
    dead = Simulator().start()
    url = dead.url
    dead.stop()
    matrix = Session(model="all-minilm", host=simulator.url, record=False).embed(
        [f"t{i}" for i in range(6)], batch_size=2, hosts=[url, simulator.url])
    assert matrix.shape == (6, 384)
    assert len(_embed_bodies(simulator)) == 3


def test_stop_keeps_finished_chunks_in_the_record(simulator: Simulator, tmp_path) -> None:
    session = Session(model="all-minilm", host=simulator.url, record=Record(tmp_path / "r.db"))
    texts = ["quick one", "quick two", "slow [[delay=30]]", "never"]
    plan = plan_embedding(session, texts, batch_size=2, concurrency=1)  # the slow chunk goes second
    assert plan.job is not None
    plan.job.start()
    for _ in range(3):  # /api/tags and /api/version (the cache key), then the first chunk
        simulator.wait_for("complete", timeout=10)
    for _ in range(4):  # ... and the slow chunk has arrived
        simulator.wait_for("request", timeout=10)
    assert _embed_bodies(simulator)[-1]["input"] == ["slow [[delay=30]]", "never"]
    plan.job.stop()
    assert plan.job.wait(10)
    simulator.wait_for("disconnect", timeout=10)  # the slow request was closed at once
    with pytest.raises(Interrupted, match="stopped: 2 new vectors are kept in the record, 2 texts were not sent"):
        plan.matrix()
    rest = ["quick one", "quick two", "now fast", "never"]
    session.embed(rest, batch_size=2)
    assert _embed_bodies(simulator)[-1]["input"] == ["now fast", "never"]


def test_stop_without_a_record_says_the_vectors_are_not_kept(simulator: Simulator) -> None:
    session = Session(model="all-minilm", host=simulator.url, record=False)
    plan = plan_embedding(session, ["quick one", "quick two", "slow [[delay=30]]", "never"], batch_size=2,
                          concurrency=1)
    assert plan.job is not None
    plan.job.start()
    while not any("slow [[delay=30]]" in body["input"] for body in _embed_bodies(simulator)):
        simulator.wait_for("request", timeout=10)
    plan.job.stop()
    assert plan.job.wait(10)
    with pytest.raises(Interrupted, match="2 texts were not sent, and with no record the 2 vectors received are not"):
        plan.matrix()


def test_session_embed_takes_a_frame_with_a_template(simulator: Simulator) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"title": ["Good", "Bad"], "body": ["works well", "broke"]}, index=["x", "y"])
    session = Session(model="all-minilm", host=simulator.url, record=False)
    matrix = session.embed(frame, text="{item.title}: {item.body}")
    assert matrix.shape == (2, 384)
    assert _embed_bodies(simulator)[0]["input"] == ["Good: works well", "Bad: broke"]
    with pytest.raises(ValueError, match="text="):
        session.embed(frame)


def test_search_finds_the_items_that_share_words(simulator: Simulator) -> None:
    pytest.importorskip("pandas")
    reviews = ["The battery dies after an hour", "Lovely screen and colours", "Battery life is poor, battery weak",
               "Shipping was fast", "The case feels cheap"]
    session = Session(model="nomic-embed-text", host=simulator.url, record=False)
    found = session.search("battery", reviews, k=2)
    assert list(found.columns) == ["index", "score", "text"]
    assert set(found["index"]) == {0, 2}
    assert found["score"].is_monotonic_decreasing


def test_a_missing_numpy_is_one_line_naming_the_extra(simulator: Simulator, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now raises ImportError
    session = Session(model="all-minilm", host=simulator.url, record=False)
    with pytest.raises(MissingExtraError) as caught:
        session.embed(["a"])
    assert str(caught.value) == "Session.embed needs numpy: pip install 'ollama_nb[data]'"
    assert _embed_bodies(simulator) == []


# -- %ollama embed -------------------------------------------------------------------------------------------
def test_the_embed_magic_stores_the_matrix(magics_shell: Any, simulator: Simulator) -> None:
    shell = magics_shell
    shell.user_ns["reviews"] = ["one", "two", "three"]
    shell.run_line_magic("ollama", "embed reviews -m all-minilm --dimensions 8 --batch-size 2 -o vectors")
    assert shell.user_ns["vectors"].shape == (3, 8)
    assert len(_embed_bodies(simulator)) == 2
    result = shell.run_cell("%ollama embed nothing_here -m all-minilm -o v")
    assert "nothing_here" in str(result.error_in_exec)


def test_import_ollama_nb_pulls_in_neither_numpy_nor_pandas() -> None:
    import subprocess

    code = ("import sys, ollama_nb\nollama_nb.Session(model='all-minilm', host='127.0.0.1:1').embed\n"
            "import ollama_nb.magics\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
