"""Prompts × models × data (``Session.experiment``) against the simulator.

- **Throughput**: an experiment of 3 prompts × 2 models × N items (N = 200; 60 with ``--quick``)
  at full speed, against the same requests sent as ``Session.map`` calls (one per model over the
  3·N rendered prompts, the same seed option): what the grid adds — rendering, one batch per
  (model, repeat) in turn, the per-host ``/api/version`` and ``/api/tags``, the scoring — shows
  as a lower items/s. Figure: items/s experiment ÷ items/s map; target ≥ 0.95. Beside it, the
  client process's CPU seconds of each (less sensitive than wall time to a shared machine's load).
- **Rescore**: 100,002 answers (16,667 items × 3 prompts × 2 models, answers taken from a real
  run) rebuilt with ``Experiment.from_results`` and rescored with a Python scorer; no request is
  sent. Figure: seconds of ``rescore`` (median of rounds); target ≤ 2 s. Reported beside it: the
  same scorer called in a plain loop over the same answers (the floor).
"""

from __future__ import annotations

import time
from typing import Any

from ._common import MODEL, Sample, SimProcess, interleave, log, median, paired_ratio, run_parts, summarize

CONCURRENCY = 4
PROMPTS = {"short": "Short: item {item} [[tokens=20]]", "plain": "Plain: item {item} [[tokens=20]]",
           "long": "Long: item {item} [[tokens=20]]"}
MODELS = [MODEL, "qwen3"]
TARGET_THROUGHPUT = 0.95
RESCORE_ITEMS = 16_667
TARGET_RESCORE_S = 2.0


def _session(url: str) -> Any:
    from ollama_nb import Session

    return Session(model=MODEL, host=url, record=False)


def _score(answer: Any, item: Any) -> bool:
    return answer.startswith("*(simulated") and item % 2 == 0


def bench_throughput(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    n = 60 if quick else 200
    items = list(range(n))
    cells = len(PROMPTS) * len(MODELS) * n
    rendered = [template.format(item=i) for template in PROMPTS.values() for i in items]

    def experiment() -> Sample:
        t0, cpu0 = time.perf_counter(), time.process_time()
        exp = _session(sim.url).experiment(PROMPTS, items, models=MODELS, concurrency=CONCURRENCY, cache=False,
                                           score=_score)
        exp.wait()
        wall = time.perf_counter() - t0
        assert exp.progress().ok == cells, exp.progress().line()
        return {"items_per_s": cells / wall, "wall_s": wall, "client_cpu_s": time.process_time() - cpu0}

    def maps() -> Sample:
        t0, cpu0 = time.perf_counter(), time.process_time()
        session = _session(sim.url)
        for model in MODELS:
            batch = session.map(lambda text: text, rendered, model=model, concurrency=CONCURRENCY, cache=False, seed=0)
            batch.wait()
            assert batch.progress().ok == len(rendered), batch.progress().line()
        wall = time.perf_counter() - t0
        return {"items_per_s": cells / wall, "wall_s": wall, "client_cpu_s": time.process_time() - cpu0}

    samples = interleave([("Session.map per model", maps), ("Session.experiment", experiment)], 3 if quick else 5)
    ratio = paired_ratio(samples, "Session.experiment", "Session.map per model", "items_per_s")
    return {
        "cells": cells, "prompts": len(PROMPTS), "models": len(MODELS), "items": n, "concurrency": CONCURRENCY,
        "contenders": summarize(samples, "Session.map per model", ["items_per_s", "wall_s", "client_cpu_s"]),
        "check": {"value": ratio, "target": f">= {TARGET_THROUGHPUT}",
                  "met": ratio is not None and ratio >= TARGET_THROUGHPUT},
    }


def bench_rescore(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    import pandas

    from ollama_nb import Experiment

    real = _session(sim.url).experiment(PROMPTS, list(range(20)), models=MODELS, cache=False)
    real.wait()
    answers = real.results["answer"].tolist()
    items = list(range(RESCORE_ITEMS))
    rows = [(i, p, m, answers[(i * 7 + k) % len(answers)]) for m in MODELS for k, p in enumerate(PROMPTS)
            for i in items]
    results = pandas.DataFrame({
        "prompt": [r[1] for r in rows], "model": [r[2] for r in rows], "repeat": 0, "seed": 0,
        "answer": [r[3] for r in rows], "parsed": None, "status": "ok", "error": None, "ttft_s": 0.01,
        "output_tokens": 20, "tokens_per_s": 1000.0, "wall_s": 0.02, "gpu_s": 0.02, "host": sim.url,
        "digest": "sha256:x", "server_version": "0",
    }, index=pandas.Index([r[0] for r in rows], name="item"))
    t0 = time.perf_counter()
    exp = Experiment.from_results(results, items)
    rebuild_s = time.perf_counter() - t0
    mark = sim.mark()
    rescore_s, loop_s = [], []
    for _ in range(2 if quick else 5):
        t0 = time.perf_counter()
        exp.rescore({"even": _score})
        rescore_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        [_score(a, i) for a, i in zip(results["answer"].tolist(), results.index.tolist())]
        loop_s.append(time.perf_counter() - t0)
    assert exp.results["even"].notna().all()
    value = median(rescore_s)
    log(f"experiment: rescore of {len(results)} answers in {value:.3f} s")
    return {
        "answers": len(results), "rebuild_s": rebuild_s, "rescore_s": {"median": value, "runs": rescore_s},
        "plain_loop_s": median(loop_s),
        "requests_during_rescore": len([e for e in sim.events(mark) if e.kind == "request"]),
        "check": {"value": value, "target": f"<= {TARGET_RESCORE_S} s",
                  "met": value is not None and value <= TARGET_RESCORE_S},
    }


def bench_experiment(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    return run_parts("experiment", (("throughput", bench_throughput), ("rescore", bench_rescore)), sim, quick=quick)


def experiment_targets(area: dict[str, Any], fmt: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """The rows of the report's targets table for this area."""
    rows: list[tuple[str, str, str, bool | None]] = []
    for key, label, target, show in (
        ("throughput", "experiment: items/s, 3 prompts × 2 models / the same requests as Session.map", "≥ 0.95x",
         fmt["x"]),
        ("rescore", "experiment: rescore of 100,002 answers with a Python scorer", "≤ 2 s", lambda v: f"{v:.2f} s"),
    ):
        part = area.get(key)
        if part is None:
            continue
        if "error" in part:
            rows.append((label, "error", target, False))
            continue
        check = part["check"]
        rows.append((label, show(check["value"]) if check["value"] is not None else "none", target, check["met"]))
    return rows
