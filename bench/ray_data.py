"""The prompt over a dataset on Ray Data (``ollama_nb.ray``), against ``Session.map``.

- **Speed**: N rows over the same two paced simulator hosts (each item ``[[delay]]``-paced, so a
  host serves ``concurrency`` streams at a time): ``Session.map(...).wait()`` against
  ``ollama_nb.ray.run(...).wait()`` with Ray already started (figure: items/s Ray ÷ Session.map;
  target ≥ 0.8), and the first job of a fresh process, ``ray.init`` included (reported).
- **Driver memory**: the driver's peak RSS growth (VmHWM after ``ray.init`` → end) over a
  200,000-row Parquet input, beside a 20,000-row one: each job is stopped after 2 s, so every row
  still goes through the pipeline and is written (``not run``). Target: does not grow with the
  input (200k growth ≤ 20k growth + 64 MiB); reported.

Each Ray job runs in a child process (``bench/_ray_child.py``): this process never holds a Ray.
Needs the ``ray`` extra; without it the area reports that it was skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from ._common import REPO, MODEL, SimProcess, log, median

CONCURRENCY = 4
PACED_ITEM = "item {item} [[tokens=20]] [[delay=0.01]]"  # the child's template renders the same prompt
TARGET_SPEED = 0.8
MEMORY_SLACK_KIB = 64 * 1024


def _child(*args: object, timeout: float = 900) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench._ray_child", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"bench._ray_child {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _session_map(hosts: list[str], items: int) -> float:
    from ollama_nb import Session

    t0 = time.perf_counter()
    batch = Session(model=MODEL, host=hosts[0], record=False).map(PACED_ITEM, list(range(items)),
                                                                   concurrency=CONCURRENCY, hosts=hosts, cache=False)
    batch.wait()
    assert batch.progress().ok == items, batch.progress().line()
    return items / (time.perf_counter() - t0)


def bench_speed(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    items, rounds = (96, 2) if quick else (256, 3)
    with SimProcess() as second:
        hosts = [sim.url, second.url]
        baseline = [_session_map(hosts, items) for _ in range(rounds)]
        ray = _child("speed", sim.url, second.url, items, rounds)
    ratio = median(ray["items_per_s"]) / median(baseline)  # type: ignore[operator]
    return {
        "items": items, "concurrency_per_host": CONCURRENCY, "prompt": PACED_ITEM,
        "session_map_items_per_s": baseline, "ray_items_per_s": ray["items_per_s"],
        "ray_items_per_s_with_init": ray["items_per_s_with_init"], "ray_init_s": ray["init_s"],
        "ratio_with_init": ray["items_per_s_with_init"] / median(baseline),  # type: ignore[operator]
        "check": {"value": ratio, "target": f">= {TARGET_SPEED}", "met": ratio >= TARGET_SPEED},
    }


def bench_memory(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    small = _child("memory", sim.url, 20_000)
    big = _child("memory", sim.url, 200_000)
    grows = big["growth_kib"] - small["growth_kib"]
    return {"rows_20k": small, "rows_200k": big,
            "check": {"value": grows, "target": f"<= {MEMORY_SLACK_KIB} KiB more than 20k rows",
                      "met": grows <= MEMORY_SLACK_KIB}}


def bench_ray(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    try:
        import ray  # noqa: F401
    except ImportError:
        return {"skipped": "the ray extra is not installed (pip install 'ollama_nb[ray]')"}
    out: dict[str, Any] = {}
    for name, run in (("speed", bench_speed), ("driver_memory", bench_memory)):
        log(f"ray: {name}")
        try:
            out[name] = run(sim, quick=quick)
        except Exception as exc:  # one part failing leaves the other
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
