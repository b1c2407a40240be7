"""Three clients we did not write, pointed at the simulator: the official ``ollama`` Python client,
``langchain-ollama`` (ChatOllama, OllamaLLM, OllamaEmbeddings) and ``llm`` + ``llm-ollama`` (its CLI).

Versions are pinned in scripts/requirements-test.txt. What a client cannot do is asserted as such
(``cannot_*`` tests and comments), never skipped: if a client starts to do it, the test says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from ollama_nb.simulator import Simulator

ollama = pytest.importorskip("ollama")


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    email: str = Field(pattern=r"^[^@]+@[^@]+$")


@pytest.fixture
def oc(simulator: Simulator) -> Iterator[object]:
    yield ollama.Client(host=simulator.url)


def _weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city
    """
    return "sunny"


# -- the official ollama client ---------------------------------------------------------------------------
def test_ollama_chat_streams_and_counts_tokens(oc) -> None:
    chunks = list(oc.chat(model="llama3.2", messages=[{"role": "user", "content": "hi [[tokens=6]]"}], stream=True))
    assert "".join(c.message.content for c in chunks).startswith("*(simulated reply)*")
    assert chunks[-1].done and chunks[-1].done_reason == "stop" and chunks[-1].eval_count == 6


def test_ollama_generate_and_async_chat(simulator: Simulator, oc) -> None:
    assert oc.generate(model="llama3.2", prompt="hi").response.startswith("*(simulated reply)*")

    async def main() -> str:
        reply = await ollama.AsyncClient(host=simulator.url).chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}])
        return reply.message.content

    assert asyncio.run(main()).startswith("*(simulated reply)*")


def test_ollama_thinking_is_on_when_think_is_unset_and_off_when_false(oc) -> None:
    message = [{"role": "user", "content": "hi"}]
    assert oc.chat(model="qwen3", messages=message).message.thinking
    assert oc.chat(model="qwen3", messages=message, think=False).message.thinking is None
    with pytest.raises(ollama.ResponseError) as caught:
        oc.chat(model="llama3.2", messages=message, think=True)
    assert caught.value.status_code == 400 and "does not support thinking" in caught.value.error


def test_ollama_structured_output_parses_into_the_pydantic_model(oc) -> None:
    reply = oc.chat(model="llama3.2", messages=[{"role": "user", "content": "a person"}],
                    format=Person.model_json_schema())
    person = Person.model_validate_json(reply.message.content)
    assert 0 <= person.age <= 130 and "@" in person.email


def test_ollama_tool_round_and_what_it_drops(oc) -> None:
    messages: list = [{"role": "user", "content": "Weather in Paris?"}]
    first = oc.chat(model="llama3.2", messages=messages, tools=[_weather])
    call = first.message.tool_calls[0]
    assert call.function.name == "_weather" and call.function.arguments == {"city": "Tokyo"}
    # ollama-python 0.6.3's ToolCall has no `id` and no `index`: the simulator sends both, the client drops them
    assert "id" not in call.model_dump() and "index" not in call.function.model_dump()
    messages += [first.message, {"role": "tool", "content": _weather("Tokyo"), "tool_name": "_weather"}]
    second = oc.chat(model="llama3.2", messages=messages, tools=[_weather])
    assert "sunny" in second.message.content and not second.message.tool_calls


def test_ollama_tools_on_a_model_without_them_fail_like_ollama(oc) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        oc.chat(model="gemma3", messages=[{"role": "user", "content": "hi"}], tools=[_weather])
    assert (caught.value.status_code, caught.value.error) == (
        400, "registry.ollama.ai/library/gemma3:latest does not support tools")


def test_ollama_embed_and_the_legacy_embeddings(oc) -> None:
    answer = oc.embed(model="nomic-embed-text", input=["a cat", "a dog"], dimensions=32)
    assert [len(v) for v in answer.embeddings] == [32, 32]
    assert abs(sum(v * v for v in answer.embeddings[0]) - 1) < 1e-4
    assert len(oc.embeddings(model="nomic-embed-text", prompt="a cat").embedding) == 768
    with pytest.raises(ollama.ResponseError) as caught:
        oc.chat(model="nomic-embed-text", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.error == '"nomic-embed-text" does not support chat'


def test_ollama_list_show_ps_pull(oc) -> None:
    names = [m.model for m in oc.list().models]
    assert "llama3.2:latest" in names and "nomic-embed-text:latest" in names
    shown = oc.show("nomic-embed-text")
    assert shown.capabilities == ["embedding"] and shown.modelinfo["nomic-bert.embedding_length"] == 768
    oc.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert "llama3.2:latest" in [m.model for m in oc.ps().models]
    statuses = [p.status for p in oc.pull("tinyllama", stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    with pytest.raises(ollama.ResponseError) as caught:
        oc.show("missing-model")
    assert caught.value.status_code == 404


# -- langchain-ollama --------------------------------------------------------------------------------------
langchain_ollama = pytest.importorskip("langchain_ollama")


def test_langchain_chat_invoke_stream_and_llm(simulator: Simulator) -> None:
    chat = langchain_ollama.ChatOllama(model="llama3.2", base_url=simulator.url)
    assert chat.invoke("hi").content.startswith("*(simulated reply)*")
    assert "".join(chunk.content for chunk in chat.stream("hi [[tokens=4]]")).startswith("*(simulated reply)*")
    llm = langchain_ollama.OllamaLLM(model="llama3.2", base_url=simulator.url)
    assert llm.invoke("hi").startswith("*(simulated reply)*")


def test_langchain_structured_output(simulator: Simulator) -> None:
    chat = langchain_ollama.ChatOllama(model="llama3.2", base_url=simulator.url)
    person = chat.with_structured_output(Person).invoke("a person")
    assert isinstance(person, Person) and "@" in person.email


def test_langchain_tool_calls_keep_ids(simulator: Simulator) -> None:
    chat = langchain_ollama.ChatOllama(model="llama3.2", base_url=simulator.url).bind_tools([_weather])
    message = chat.invoke("Weather in Paris?")
    assert [c["name"] for c in message.tool_calls] == ["_weather"]
    assert message.tool_calls[0]["args"] == {"city": "Tokyo"}
    # langchain-ollama reads the call through ollama-python, so the server's id is lost and a new uuid is made
    assert message.tool_calls[0]["id"] and not message.tool_calls[0]["id"].startswith("call_")


def test_langchain_reasoning(simulator: Simulator) -> None:
    chat = langchain_ollama.ChatOllama(model="qwen3", base_url=simulator.url, reasoning=True)
    message = chat.invoke("hi")
    assert message.additional_kwargs["reasoning_content"].startswith("*(simulated thinking)*")
    assert "simulated thinking" not in message.content


def test_langchain_embeddings(simulator: Simulator) -> None:
    embeddings = langchain_ollama.OllamaEmbeddings(model="nomic-embed-text", base_url=simulator.url)
    documents = embeddings.embed_documents(["a cat", "a dog"])
    assert len(documents) == 2 and len(documents[0]) == 768
    assert embeddings.embed_query("a cat") == documents[0]


# -- llm + llm-ollama (the CLI, as a user runs it) ------------------------------------------------------------
LLM = Path(sys.executable).with_name("llm")


def _llm(simulator: Simulator, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not LLM.exists():
        pytest.fail("the llm CLI is not installed: pip install -r scripts/requirements-test.txt")
    env = {**os.environ, "OLLAMA_HOST": simulator.url, "LLM_USER_PATH": str(tmp_path / "llm")}
    done = subprocess.run([str(LLM), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def test_llm_lists_the_models_and_prompts_one(simulator: Simulator, tmp_path: Path) -> None:
    models = _llm(simulator, tmp_path, "models").stdout
    assert "Ollama: ollama/llama3.2:latest" in models
    assert "nomic-embed-text" not in models  # an embedding model is not offered for chat
    assert _llm(simulator, tmp_path, "-m", "ollama/llama3.2", "hi").stdout.startswith("*(simulated reply)*")


def test_llm_schema_and_logs(simulator: Simulator, tmp_path: Path) -> None:
    out = _llm(simulator, tmp_path, "-m", "ollama/llama3.2", "--schema", "name, age int", "a person").stdout
    assert set(json.loads(out)) == {"name", "age"}
    logs = json.loads(_llm(simulator, tmp_path, "logs", "-n", "1", "--json").stdout)
    assert logs[0]["model"] == "ollama/llama3.2:latest" and logs[0]["schema_json"]["required"] == ["name", "age"]


def test_llm_thinking_and_tools(simulator: Simulator, tmp_path: Path) -> None:
    done = _llm(simulator, tmp_path, "-m", "ollama/qwen3", "hi")
    assert done.stdout.startswith("*(simulated reply)*") and "*(simulated thinking)*" in done.stderr
    code = "def weather(city: str) -> str:\n    return 'sunny'"
    done = _llm(simulator, tmp_path, "-m", "ollama/llama3.2", "--functions", code, "Weather in Paris?", "--td")
    assert "Tool call: weather({'city': 'Tokyo'})" in done.stdout + done.stderr  # --td prints the call
    assert "returned: sunny" in done.stdout  # the second round answered with the tool's result


def test_llm_embed(simulator: Simulator, tmp_path: Path) -> None:
    assert "Ollama: ollama/nomic-embed-text:latest" in _llm(simulator, tmp_path, "embed-models").stdout
    vector = json.loads(_llm(simulator, tmp_path, "embed", "-m", "ollama/nomic-embed-text", "-c", "hello").stdout)
    assert len(vector) == 768
