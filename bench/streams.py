"""Consuming one long stream: ``ollama_nb.Client`` vs raw httpx vs the official ``ollama`` package.

Each contender reads one ``/api/generate`` reply of N tokens (5,000 and 50,000) from the
simulator at full speed and ends with the whole text as one ``str``. Measured per run: wall
time, and CPU time of this process (the client's own cost, which the simulator's speed and the
machine's other load do not dilute). Baseline: raw httpx, ``iter_lines()`` + ``json.loads``.
Targets: ollama_nb within 1.15x of raw httpx, and faster than the official package.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ._common import MODEL, SimProcess, Sample, generate_body, interleave, log, paired_ratio, summarize

BASELINE = "raw httpx"
TARGET_VS_RAW = 1.15


def _prompt(tokens: int) -> str:
    return f"Tell me a long story. [[tokens={tokens}]]"


def _contenders(url: str) -> tuple[list[tuple[str, Any]], list[Any]]:
    """Each contender is ``run(prompt) -> text`` with its own client, kept for the whole area."""
    import httpx

    import ollama_nb

    raw = httpx.Client(base_url=url, timeout=300)
    mine = ollama_nb.Client(url)
    closers: list[Any] = [raw.close, mine.close]

    def run_raw(prompt: str) -> str:
        parts = []
        with raw.stream("POST", "/api/generate", json=generate_body(prompt)) as response:
            for line in response.iter_lines():
                if line:
                    parts.append(json.loads(line).get("response") or "")
        return "".join(parts)

    def run_ollama_nb(prompt: str) -> str:
        return mine.generate(MODEL, prompt).read()

    contenders: list[tuple[str, Any]] = [(BASELINE, run_raw), ("ollama_nb.Client", run_ollama_nb)]
    try:
        import ollama
    except ImportError:
        pass
    else:
        official = ollama.Client(host=url)

        def run_official(prompt: str) -> str:
            return "".join(part.response or "" for part in official.generate(MODEL, prompt, stream=True))

        contenders.append(("ollama (official)", run_official))
        inner = getattr(official, "_client", None)
        if inner is not None:
            closers.append(inner.close)
    return contenders, closers


def _timed(run: Any, prompt: str) -> Any:
    def sample() -> Sample:
        cpu, wall = time.process_time(), time.perf_counter()
        text = run(prompt)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {"wall_s": wall, "cpu_s": cpu, "chars": float(len(text))}

    return sample


def bench_streams(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    # (tokens, rounds, warm-up rounds): the first size's warm-up also warms the second's clients
    plan = [(5_000, 4, 1), (50_000, 1, 0)] if quick else [(5_000, 9, 1), (50_000, 4, 0)]
    out: dict[str, Any] = {"baseline": BASELINE, "sizes": {}}
    contenders, closers = _contenders(sim.url)
    try:
        for tokens, rounds, warmup in plan:
            log(f"streams: {tokens} tokens, {rounds} interleaved rounds of {len(contenders)} clients")
            samples = interleave([(name, _timed(run, _prompt(tokens))) for name, run in contenders], rounds, warmup=warmup)
            out["sizes"][str(tokens)] = _size_result(tokens, rounds, samples)
    finally:
        for close in closers:
            close()
    return out


def _size_result(tokens: int, rounds: int, samples: dict[str, list[Sample]]) -> dict[str, Any]:
    lengths = {s["chars"] for rows in samples.values() for s in rows}
    if len(lengths) != 1:
        raise RuntimeError(f"the contenders read different texts (lengths {sorted(lengths)})")
    summary = summarize(samples, BASELINE, ["wall_s", "cpu_s"])
    mine = summary["ollama_nb.Client"]
    official = summary.get("ollama (official)")
    checks = {
        "ollama_nb_vs_raw_wall": _check(mine["wall_s"]["ratio"], TARGET_VS_RAW),
        "ollama_nb_vs_raw_cpu": _check(mine["cpu_s"]["ratio"], TARGET_VS_RAW),
    }
    if official is not None:
        for key in ("wall_s", "cpu_s"):
            ratio = paired_ratio(samples, "ollama_nb.Client", "ollama (official)", key)
            checks[f"ollama_nb_faster_than_official_{key[:-2]}"] = {
                "value": ratio, "target": "< 1", "met": ratio is not None and ratio < 1,
            }
    return {"tokens": tokens, "reply_chars": int(lengths.pop()), "rounds": rounds, "contenders": summary, "checks": checks}


def _check(ratio: float | None, target: float) -> dict[str, Any]:
    return {"value": ratio, "target": f"<= {target}", "met": ratio is not None and ratio <= target}
