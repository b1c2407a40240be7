"""Embeddings (``Session.embed``) against the simulator.

- **Throughput, one host**: N texts, ``batch_size`` 64, ``Session.embed`` (record off) against a
  hand-written loop over ollama-python's ``Client.embed`` with the same batch size. Figure: texts/s ours
  ÷ texts/s hand loop; target ≥ 1.0.
- **Two hosts**: the same texts, each request paced (``[[delay=S]]``: the model, not the client, takes
  the time, as on a GPU), ``Session.embed(hosts=[a, b])`` against the hand loop on one host. Target ≥ 1.8.
- **Fully cached**: 100,000 texts whose vectors are all in the record (written beforehand with the
  cache's own API and the simulator's digest and version): one ``Session.embed`` of them in a new
  session, wall time (median). Target ≤ 1 s.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from ._common import SimProcess, Sample, interleave, median, paired_ratio, run_parts, summarize

MODEL = "all-minilm"
BATCH = 64
PACE = "[[delay=0.5]]"  # per request: well above the simulator's own CPU time for 64 vectors
CACHED = 100_000
TARGET_ONE = 1.0
TARGET_TWO = 1.8
TARGET_CACHED_S = 1.0


def _texts(n: int, suffix: str = "") -> list[str]:
    return [f"review {i}: the battery lasts {i % 17} hours and the screen is {i % 5} stars{suffix}" for i in range(n)]


def _hand_loop(url: str, texts: list[str]) -> Sample:
    import ollama

    client = ollama.Client(host=url)
    t0 = time.perf_counter()
    vectors: list[Any] = []
    for start in range(0, len(texts), BATCH):
        vectors.extend(client.embed(model=MODEL, input=texts[start:start + BATCH]).embeddings)
    wall = time.perf_counter() - t0
    assert len(vectors) == len(texts)
    return {"texts_per_s": len(texts) / wall, "wall_s": wall}


def _ours(hosts: list[str], texts: list[str]) -> Sample:
    from ollama_nb import Session

    t0 = time.perf_counter()
    matrix = Session(model=MODEL, host=hosts[0], record=False).embed(texts, batch_size=BATCH, hosts=hosts)
    wall = time.perf_counter() - t0
    assert matrix.shape[0] == len(texts)
    return {"texts_per_s": len(texts) / wall, "wall_s": wall}


def _ratio(samples: dict[str, list[Sample]], name: str, baseline: str, target: float, **about: Any) -> dict[str, Any]:
    ratio = paired_ratio(samples, name, baseline, "texts_per_s")
    return {**about, "contenders": summarize(samples, baseline, ["texts_per_s", "wall_s"]),
            "check": {"value": ratio, "target": f">= {target}", "met": ratio is not None and ratio >= target}}


def bench_one_host(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    texts = _texts(640 if quick else 2560)
    samples = interleave([("hand loop over ollama-python embed", lambda: _hand_loop(sim.url, texts)),
                          ("Session.embed", lambda: _ours([sim.url], texts))], 3 if quick else 7)
    return _ratio(samples, "Session.embed", "hand loop over ollama-python embed", TARGET_ONE,
                  texts=len(texts), batch_size=BATCH, model=MODEL)


def bench_two_hosts(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    texts = _texts(512 if quick else 1280, " " + PACE)
    with SimProcess() as second:
        samples = interleave([("hand loop over ollama-python embed, one host", lambda: _hand_loop(sim.url, texts)),
                              ("Session.embed, two hosts", lambda: _ours([sim.url, second.url], texts))],
                             3 if quick else 5)
    return _ratio(samples, "Session.embed, two hosts", "hand loop over ollama-python embed, one host", TARGET_TWO,
                  texts=len(texts), batch_size=BATCH, pace=PACE)


def bench_cached(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    import numpy as np

    from ollama_nb import Client, Record, Session
    from ollama_nb.embeddings._embed_cache import EmbeddingCache, config_key

    texts = [f"cached text number {i}" for i in range(CACHED)]
    path = os.path.join(tempfile.mkdtemp(prefix="onb-bench-embed-"), "record.db")
    client = Client(sim.url)
    digest = next((str(m.raw.get("digest") or "") for m in client.models() if m.name == MODEL + ":latest"), "")
    cache = EmbeddingCache(Record(path), config_key(MODEL + ":latest", digest, client.version(), None, None), MODEL)
    rng = np.random.default_rng(0)
    for start in range(0, CACHED, 10_000):
        block = rng.standard_normal((10_000, 384)).astype(np.float32)
        cache.store(texts[start:start + 10_000], (block / np.linalg.norm(block, axis=1, keepdims=True)).tolist())
    cache.record.close()
    walls = []
    for _ in range(3 if quick else 5):
        t0 = time.perf_counter()
        matrix = Session(model=MODEL, host=sim.url, record=Record(path)).embed(texts)
        walls.append(time.perf_counter() - t0)
        assert matrix.shape == (CACHED, 384)
    wall = median(walls)
    met = wall is not None and wall <= TARGET_CACHED_S
    return {"texts": CACHED, "walls_s": walls, "check": {"value": wall, "target": f"<= {TARGET_CACHED_S}", "met": met}}


def bench_embed(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    return run_parts("embed", (("one_host", bench_one_host), ("two_hosts", bench_two_hosts), ("cached", bench_cached)),
                     sim, quick=quick)
