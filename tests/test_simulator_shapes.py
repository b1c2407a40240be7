"""The simulator's ``[[shape=NAME]]`` directive: long replies in one Markdown shape, over a socket."""

from __future__ import annotations

import re

import httpx
import pytest

from ollama_nb import Client
from ollama_nb.simulator import Simulator

#: What every line after the prefix of each shape looks like (the last line may be cut short).
LINE = {
    "list": r"- \S.*",
    "nested-list": r"(- |  1\. |     - )\S.*",
    "quote": r">( \S.*)?",
    "table": r"\|.*",
}


@pytest.mark.parametrize("shape", ["paragraph", "paragraphs", "code", "list", "nested-list", "table", "quote"])
def test_a_shaped_reply_has_exactly_the_tokens_asked_for_and_its_shape(simulator: Simulator, shape: str) -> None:
    with Client(simulator.url) as client:
        reply = client.generate("llama3.2", f"write [[shape={shape}]] [[tokens=700]]")
        text = reply.read()
    assert reply.output_chunks == 700
    prefix, blank, body = text.partition("\n\n")
    assert (prefix, blank) == ("*(simulated reply)*", "\n\n")
    lines = body.split("\n")[:-1]  # the last line may be cut mid-way
    if shape == "paragraph":
        assert "\n" not in body and body.count(". ") > 20
    elif shape == "paragraphs":
        assert body.count("\n\n") > 10
    elif shape == "code":
        assert body.startswith("```python\n") and body.count("\ndef ") > 5
    else:
        assert len(lines) > 20
        assert all(re.fullmatch(LINE[shape], line) for line in lines), [l for l in lines if not re.fullmatch(LINE[shape], l)][:3]


def test_the_same_shaped_prompt_gives_the_same_reply(simulator: Simulator) -> None:
    with Client(simulator.url) as client:
        first = client.generate("llama3.2", "again [[shape=table]] [[tokens=200]]").read()
        second = client.generate("llama3.2", "again [[shape=table]] [[tokens=200]]").read()
    assert first == second


def test_an_unknown_shape_is_a_400_naming_the_known_ones(simulator: Simulator) -> None:
    response = httpx.post(simulator.url + "/api/generate", json={"model": "llama3.2", "prompt": "x [[shape=poem]]"})
    assert response.status_code == 400
    assert "[[shape=poem]]" in response.json()["error"] and "nested-list" in response.json()["error"]
