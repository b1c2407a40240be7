"""Where a real client can tell the simulator from Ollama: each case below failed on the simulator before
these fixes (the source of Ollama's behaviour is cited in the simulator's code)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from ollama_nb.simulator import Simulator


@pytest.fixture
def client(simulator: Simulator):
    with httpx.Client(base_url=simulator.url, timeout=30) as http:
        yield http


def _chat(client: httpx.Client, model: str, text: str, **extra: object) -> httpx.Response:
    return client.post("/api/chat", json={"model": model, "messages": [{"role": "user", "content": text}],
                                          "stream": False, **extra})


# 1. structured output follows the schema's constraints (llama.cpp's grammar enforces them)
def test_structured_output_respects_formats_bounds_lengths_patterns_and_item_counts(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "id": {"type": "string", "format": "uuid"},
            "stars": {"type": "integer", "minimum": 3, "maximum": 5},
            "ratio": {"type": "number", "exclusiveMaximum": 1},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
            "short": {"type": "string", "maxLength": 3},
            "long": {"type": "string", "minLength": 20},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        },
        "required": ["when", "day", "id", "stars", "ratio", "code", "short", "long", "tags"],
    }
    value = json.loads(_chat(client, "llama3.2", "Fill it", format=schema).json()["message"]["content"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value["when"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", value["day"])
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value["id"])
    assert 3 <= value["stars"] <= 5 and value["ratio"] < 1
    assert re.fullmatch(r"[A-Z]{3}-[0-9]{3}", value["code"])
    assert len(value["short"]) <= 3 and len(value["long"]) >= 20 and len(value["tags"]) >= 2


def test_a_pydantic_model_with_datetime_and_bounds_parses() -> None:
    pydantic = pytest.importorskip("pydantic")
    from datetime import datetime

    class Review(pydantic.BaseModel):
        when: datetime
        stars: int = pydantic.Field(ge=1, le=5)

    with Simulator() as sim:
        body = {"model": "llama3.2", "prompt": "Rate it", "stream": False, "format": Review.model_json_schema()}
        answer = httpx.post(sim.url + "/api/generate", json=body).json()["response"]
    Review.model_validate_json(answer)


# 2. tools on a model whose template has none
def test_tools_on_gemma3_are_refused_like_ollama(client: httpx.Client) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    response = _chat(client, "gemma3", "hi", tools=tools)
    assert (response.status_code, response.json()) == (
        400, {"error": "registry.ollama.ai/library/gemma3:latest does not support tools"})
    assert "tools" not in client.post("/api/show", json={"model": "gemma3"}).json()["capabilities"]


# 3. an absent think means think for a thinking model
def test_an_absent_think_gives_thinking_on_a_thinking_model(client: httpx.Client) -> None:
    assert _chat(client, "qwen3", "hi").json()["message"].get("thinking")
    assert "thinking" not in _chat(client, "qwen3", "hi", think=False).json()["message"]
    assert "thinking" not in _chat(client, "llama3.2", "hi").json()["message"]


# 4. options.stop ends the answer before the stop string
def test_a_stop_string_ends_the_answer_before_it(client: httpx.Client) -> None:
    full = _chat(client, "llama3.2", "hi [[tokens=40]]").json()["message"]["content"]
    stop = full[30:34]
    cut = _chat(client, "llama3.2", "hi [[tokens=40]]", options={"stop": [stop]}).json()
    assert cut["message"]["content"] == full[: full.index(stop)]
    assert cut["done_reason"] == "stop"


# 5. an embedding model embeds and refuses chat
def test_an_embedding_model_reports_embedding_and_refuses_chat(client: httpx.Client) -> None:
    assert client.post("/api/show", json={"model": "all-minilm"}).json()["capabilities"] == ["embedding"]
    assert client.post("/api/embed", json={"model": "all-minilm", "input": "hi"}).status_code == 200
    refused = _chat(client, "all-minilm", "hi")
    assert (refused.status_code, refused.json()) == (400, {"error": '"all-minilm" does not support chat'})


# 6. context lengths agree across show, tags and ps
def test_context_lengths_agree_across_show_tags_and_ps(client: httpx.Client) -> None:
    _chat(client, "llama3.2", "hi")
    show = client.post("/api/show", json={"model": "llama3.2"}).json()
    tags = {m["name"]: m for m in client.get("/api/tags").json()["models"]}
    ps = {m["name"]: m for m in client.get("/api/ps").json()["models"]}
    trained = show["model_info"]["llama.context_length"]
    assert tags["llama3.2:latest"]["details"]["context_length"] == trained
    declared = re.search(r"num_ctx (\d+)", show["parameters"])
    loaded = ps["llama3.2:latest"]["context_length"]
    assert loaded <= trained
    assert declared is None or int(declared.group(1)) == loaded  # a Modelfile num_ctx is what gets loaded


# 7. a real version number, and "simulator" said elsewhere
def test_the_version_is_an_ollama_release_and_a_header_names_the_simulator(client: httpx.Client) -> None:
    response = client.get("/api/version")
    version = response.json()["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert tuple(int(part) for part in version.split(".")) >= (0, 12, 11)
    assert response.headers["x-ollama-simulator"] == "ollama_nb"
