"""Shared by the simulator's 2026 tests: the copied Ollama fixtures and byte-level comparison helpers.

``adopt(ours, theirs, keys)`` copies the fixture's value of each named key (created_at, nanosecond
metrics, tool-call ids, digests, ...) into our bytes, occurrence by occurrence; the lines must then be
equal byte for byte, so key order, escaping and number formatting are still compared.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from ollama_nb.simulator import Simulator

__all__ = ["CHAT_SCRIPT", "METRICS", "adopt", "catalogue", "chat", "fixture", "go_body", "http_client", "post", "with_prompt"]

FIXTURES = Path(__file__).parent / "fixtures" / "ollama_2026"
METRICS = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count",
           "eval_duration")
#: ``[[script=...]]`` giving the tokens, logprobs and alternatives of derived_wire_chat_stream_logprobs.ndjson.
CHAT_SCRIPT = (
    '[[script=[{"token": "<b>", "logprob": -0.1053, "top": [{"token": "<b>", "logprob": -0.1053},'
    ' {"token": "<strong>", "logprob": -2.3026}]},'
    ' {"token": "Hi", "logprob": -2.3841855e-7, "top": [{"token": "Hi", "logprob": -2.3841855e-7},'
    ' {"token": "hi", "logprob": -15.31}]},'
    ' {"token": "</b>", "logprob": -0.0009, "top": [{"token": "</b>", "logprob": -0.0009},'
    ' {"token": "!", "logprob": -7.25}]}]]]'
)
_VALUE = rb'("(?:[^"\\]|\\.)*"|\[[^\]]*\]|-?[0-9][0-9.eE+-]*|true|false|null)'


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def catalogue(case_start: str, name: str = "error_bodies_2026.json") -> dict[str, Any]:
    matches = [e for e in json.loads(fixture(name)) if e["case"].startswith(case_start)]
    assert len(matches) == 1, case_start
    return matches[0]


def go_body(value: dict[str, Any]) -> bytes:
    """A catalogue ``body`` as gin writes it (json.Marshal: compact, < > & escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def adopt(ours: bytes, theirs: bytes, keys: tuple[str, ...]) -> bytes:
    """Copy the fixture's value of each key into ``ours`` (same number of occurrences required)."""
    for key in keys:
        pattern = re.compile(b'"' + key.encode() + b'":' + _VALUE)
        mine, wanted = pattern.findall(ours), pattern.findall(theirs)
        assert len(mine) == len(wanted), (key, mine, wanted)
        values = iter(wanted)
        ours = pattern.sub(lambda m: b'"' + key.encode() + b'":' + next(values), ours)
    return ours


def with_prompt(body: bytes, old: str, new: str) -> bytes:
    """The fixture request with directives appended to one message (JSON-encoded, nothing else changes)."""
    old_json, new_json = json.dumps(old).encode(), json.dumps(new).encode()
    assert body.count(old_json) == 1
    return body.replace(old_json, new_json)


def http_client(simulator: Simulator) -> httpx.Client:
    """An httpx client for the simulator (verify=False: plain http, and no CA loading)."""
    return httpx.Client(base_url=simulator.url, timeout=10, verify=False)


def post(client: httpx.Client, path: str, body: bytes | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=content, headers={"Content-Type": "application/json"})


def chat(content: str, model: str = "llama3.2", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


