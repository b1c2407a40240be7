"""/api/embed and the legacy /api/embeddings: deterministic vectors from the text, Ollama's checks and errors.

No model runs. A text's vector is the sum of one fixed pseudo-random vector per word (lower-cased
``\\w+`` runs) plus a small one for the whole text, so texts that share words point the same way
(search and near-duplicates behave plausibly) and the same text always gives the same vector.

What follows Ollama (ollama/ollama v0.33.0-rc2 server/routes.go, quoted by line):

- /api/embed (798-1040): ``model`` empty -> 404 ``model '' not found``; ``input`` neither a string nor a
  list of strings -> 400 ``invalid input type`` (820-840); a model not pulled -> 404 ``model "x" not found,
  try pulling it first``; the model is loaded before anything else; no input (absent, null, ``""``, ``[]``)
  -> 200 ``{"model":…,"embeddings":[]}`` with no durations (854-865); a model that cannot embed -> 501
  from llama-server (``This server does not support embeddings. Start it with `--embeddings```); every
  vector L2-normalised (983-987), then cut to ``dimensions`` and normalised again when
  0 < dimensions < length (988-993); ``truncate:false`` and an input longer than the context -> 400
  ``the input length exceeds the context length`` (928-941), else the input is cut to the context;
  NaN or Inf -> 400 ``embedding contains NaN or Inf values`` (1026-1031; the ``[[nan]]`` directive).
  ``[[delay=S]]`` in any input makes the request take S seconds more.
  Keys in order ``model, embeddings, total_duration, load_duration, prompt_eval_count`` (api/types.go:621-628).
- One request at a time per embedding model (parallel 1: server/sched.go:497-503); others wait.
- /api/embeddings (1043-1099): ``model`` empty -> 400 ``model is required``; ``{"embedding":[]}`` for an
  empty prompt; no normalisation by Ollama (nomic-bert models come back raw, others L2 from llama-server);
  float32 values widened to float64 (1091-1094); every runner error -> 500.

Differences a client can see: vector values carry 6 significant digits (float32 has up to 9), so a unit
vector's length is 1 within 1e-5; tokens are counted as characters / 4 + 1, as everywhere in the simulator.

Example:
    >>> vector = text_vector("a cheap battery", 8)
    >>> len(vector), round(sum(v * v for v in vector), 4)
    (8, 1.0)
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
import struct
import threading
import time
from typing import Any

from ._binding import RequestError, bind, keep_alive_seconds, option_error
from ._exchange import JSON, Call
from ._limits import prompt_tokens
from ._models import context_length, embedding_length, is_embedding_model
from ._wire import go_float, json_string

__all__ = ["embed", "embeddings", "text_vector"]

NO_EMBEDDINGS = "This server does not support embeddings. Start it with `--embeddings`"
TOO_LONG = "the input length exceeds the context length"
NAN = "embedding contains NaN or Inf values"
_WORD = re.compile(r"\w+")
_DELAY = re.compile(r"\[\[delay=([0-9]+(?:\.[0-9]+)?)\]\]")  # a slow request, for tests of Stop


@functools.lru_cache(maxsize=50_000)
def _unit_noise(seed: str, size: int) -> tuple[float, ...]:
    rng = random.Random(hashlib.sha256(seed.encode("utf-8", "surrogatepass")).digest())
    return tuple(rng.gauss(0.0, 1.0) for _ in range(size))


def _raw_vector(text: str, size: int) -> list[float]:
    """The "runner's" vector: one vector per word, plus a third of one for the text itself."""
    total = [0.3 * v for v in _unit_noise("text:" + text, size)]
    for word in _WORD.findall(text.lower()):
        total = [a + b for a, b in zip(total, _unit_noise("word:" + word, size), strict=True)]
    return total


def _normalise(vector: list[float]) -> list[float]:
    """Scale to unit length; an all-zero vector stays zero (server/routes.go:1026-1040)."""
    norm = math.sqrt(sum(v * v for v in vector))
    scale = 1.0 / max(norm, 1e-12)
    return [v * scale for v in vector]


def text_vector(text: str, size: int, dimensions: int = 0) -> list[float]:
    """The unit vector /api/embed returns for ``text``: ``size`` values, cut to ``dimensions`` if smaller."""
    vector = _normalise(_raw_vector(text, size))
    if 0 < dimensions < len(vector):
        vector = _normalise(vector[:dimensions])
    return vector


def _float32(value: float) -> bytes:
    """A float32 as Go's json.Marshal writes it, rounded to 6 significant digits (exact in float32)."""
    text = "%.6g" % value
    return go_float(float(text)) if "e" in text else text.encode("ascii")


def _float32_as_64(value: float) -> bytes:
    """A float32 widened to float64, as /api/embeddings sends it (``0.5670403838157654``)."""
    return go_float(struct.unpack("f", struct.pack("f", value))[0])


def _vector_json(vector: list[float], encode: Any) -> bytes:
    return b"[" + b",".join(encode(v) for v in vector) + b"]"


def _model_name(body: dict[str, Any]) -> str:
    model = body.get("model") or ""
    if model.strip() and " " in model.strip():
        raise RequestError(400, "invalid model name")
    return model


def _inputs(value: Any) -> list[str]:
    """``input`` as a list of texts; [] for none (server/routes.go:820-840)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise RequestError(400, "invalid input type")


def _load(call: Call, body: dict[str, Any], model: str) -> dict[str, Any]:
    """Look the model up and load it, as ``scheduleRunner`` does; returns the options."""
    options = body.get("options") or {}
    if not call.state.shelf.exists(model):
        raise RequestError(404, f"model {_go_quote(model)} not found, try pulling it first")
    status = call.state.gate.take_refusal()
    if status is not None:
        call.state.journal.record("refused", call.path)
        raise call.state.gate.refusal(status)
    problem = option_error(options)
    if problem:
        raise RequestError(500, problem)
    num_ctx = options.get("num_ctx")
    call.state.shelf.touch(model, keep_alive_seconds(body.get("keep_alive")),
                           num_ctx if isinstance(num_ctx, int) else None)
    return options


_SLOTS: dict[tuple[int, str], threading.Lock] = {}
_SLOTS_LOCK = threading.Lock()


def _runner_slot(call: Call, model: str) -> threading.Lock:
    """One request at a time per embedding model: Ollama loads models without the completion capability
    with parallel 1 (server/sched.go:497-503), so a second request waits for the runner."""
    key = (id(call.state), model.rsplit(":", 1)[0] if ":" in model.rsplit("/", 1)[-1] else model)
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(key, threading.Lock())


def _go_quote(text: str) -> str:
    return json_string(text).decode("utf-8")


def _context(model: str, options: dict[str, Any]) -> int:
    num_ctx = options.get("num_ctx")
    limit = context_length(model)
    return min(num_ctx, limit) if isinstance(num_ctx, int) and num_ctx > 0 else limit


def _fit(text: str, context: int, truncate: bool, status: int) -> tuple[str, int]:
    """The text as the runner sees it and its token count; too long and not truncated: ``status``."""
    tokens = prompt_tokens([text])
    if tokens <= context:
        return text, tokens
    if not truncate:
        raise RequestError(status, TOO_LONG)
    return text[: max(context - 1, 0) * 4], context


def embed(call: Call) -> None:
    """POST /api/embed."""
    started = time.perf_counter_ns()
    body = bind(call.raw, "EmbedRequest")
    model = _model_name(body)
    if not model.strip():
        raise RequestError(404, f"model '{model}' not found")
    call.state.gate.check_cloud(model, stream=False)
    texts = _inputs(body.get("input"))
    options = _load(call, body, model)
    loaded = time.perf_counter_ns()
    if not texts:
        call.send_json({"model": model, "embeddings": []})
        return
    if not is_embedding_model(model):
        raise RequestError(501, NO_EMBEDDINGS)
    context, size = _context(model, options), embedding_length(model)
    dimensions = body.get("dimensions") or 0
    delay = max((float(m) for t in texts for m in _DELAY.findall(t)), default=0.0)
    vectors, count = [], 0
    with _runner_slot(call, model):
        if delay and not call.writer.pause(delay):
            return  # the client left while the "model" worked
        for text in texts:
            if "[[nan]]" in text:
                raise RequestError(400, NAN)
            seen, tokens = _fit(text, context, body.get("truncate") is not False, 400)
            count += tokens
            vectors.append(_vector_json(text_vector(seen, size, dimensions), _float32))
    end = time.perf_counter_ns()
    out = (b'{"model":' + json_string(model) + b',"embeddings":[' + b",".join(vectors) + b"]"
           + b',"total_duration":%d,"load_duration":%d,"prompt_eval_count":%d}'
           % (max(end - started, 1), max(loaded - started, 1), count))
    call.writer.send_body(200, out, JSON, call.head_only)


def embeddings(call: Call) -> None:
    """POST /api/embeddings (legacy; superseded by /api/embed)."""
    body = bind(call.raw, "EmbeddingRequest")
    model = _model_name(body)
    if not model.strip():
        raise RequestError(400, "model is required")
    call.state.gate.check_cloud(model, stream=False)
    options = _load(call, body, model)
    prompt = body.get("prompt") or ""
    if not prompt:
        call.send_json({"embedding": []})
        return
    if not is_embedding_model(model):
        raise RequestError(500, NO_EMBEDDINGS)
    seen, _ = _fit(prompt, _context(model, options), False, 500)
    raw = _raw_vector(seen, embedding_length(model))
    # nomic-bert comes back raw (embd_normalize:-1, llm/llama_server.go:983-1003); others L2 from llama-server
    vector = raw if "nomic" in model.lower() else _normalise(raw)
    call.writer.send_body(200, b'{"embedding":' + _vector_json(vector, _float32_as_64) + b"}", JSON, call.head_only)
