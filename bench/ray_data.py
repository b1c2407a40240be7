"""The prompt over a dataset on Ray Data (``ollama_nb.ray``), against ``Session.map``.

- **Speed**: N rows (2,000; 400 with ``--quick``) over the same two paced simulator hosts (each item
  ``[[delay]]``-paced, so a host serves ``concurrency`` streams at a time): ``Session.map(...).wait()``
  against ``ollama_nb.ray.run(...).wait()``. Start-up is timed apart: ``ray.init``, then the host
  workers' start (``start_hosts``: each a Ray worker process importing ollama_nb, pandas, pyarrow;
  started once per driver and reused by every job). Figure: items/s of the jobs (median over the
  rounds, start-up excluded) ÷ Session.map's (target ≥ 0.8); also the first job with the whole
  start-up included (reported).
- **Driver memory**: the driver's peak RSS growth (VmHWM after ``ray.init`` and the workers' start →
  end) over a 200,000-row Parquet input, beside a 20,000-row one: each job is stopped after 2 s, so
  every row still goes through the pipeline and is written (``not run``). Target: does not grow
  with the input (200k growth ≤ 20k growth + 64 MiB); reported.

Each Ray job runs in a child process (``bench/_ray_child.py``): this process never holds a Ray.
Needs the ``ray`` extra; without it the area reports that it was skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from ._common import MODEL, REPO, SimProcess, median, run_parts

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
    items, rounds = (400, 2) if quick else (2000, 2)
    with SimProcess() as second:
        hosts = [sim.url, second.url]
        baseline = [_session_map(hosts, items) for _ in range(rounds)]
        ray = _child("speed", sim.url, second.url, items, rounds)
    ratio = median(ray["items_per_s"]) / median(baseline)  # type: ignore[operator]
    return {
        "items": items, "concurrency_per_host": CONCURRENCY, "prompt": PACED_ITEM,
        "session_map_items_per_s": baseline, "ray_items_per_s": ray["items_per_s"], "ray_walls_s": ray["walls_s"],
        "ray_init_s": ray["init_s"], "ray_actors_s": ray["actors_s"],
        "ray_items_per_s_with_startup": ray["items_per_s_with_startup"],
        "ratio_with_startup": ray["items_per_s_with_startup"] / median(baseline),  # type: ignore[operator]
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
    return run_parts("ray", (("speed", bench_speed), ("driver_memory", bench_memory)), sim, quick=quick)


# -- the report's rows and section (bench/report.py) ----------------------------------------------
def ray_targets(area: dict[str, Any], fmt: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(what, measured, target, met) of the ray area."""
    rows: list[tuple[str, str, str, bool | None]] = []
    speed, memory = area.get("speed") or {}, area.get("driver_memory") or {}
    if "check" in speed:
        rows.append((f"ray: items/s, ollama_nb.ray.run / Session.map, {speed['items']:,} rows, start-up excluded",
                     fmt["x"](speed["check"]["value"]), "≥ 0.8x", speed["check"]["met"]))
        rows.append(("ray: the same, first job with ray.init and the workers' start included",
                     fmt["x"](speed["ratio_with_startup"]), "reported", None))
    if "check" in memory:
        growth = memory["check"]["value"]
        rows.append(("ray: driver peak RSS growth, 200,000-row input minus 20,000-row input",
                     f"{growth / 1024:.1f} MiB", "≤ 64 MiB", memory["check"]["met"]))
    for name, part in (("speed", speed), ("driver memory", memory)):
        if "error" in part:
            rows.append((f"ray: {name}", "error", "", False))
    return rows


def render_ray(area: dict[str, Any], fmt: dict[str, Any]) -> list[str]:
    """The ray section of results.md."""
    lines = ["### Past one machine (`ollama_nb.ray`)", ""]
    if "skipped" in area:
        return lines + [area["skipped"]]
    speed, memory = area.get("speed") or {}, area.get("driver_memory") or {}
    if "check" in speed:
        baseline = ", ".join(f"{v:.1f}" for v in speed["session_map_items_per_s"])
        jobs = ", ".join(f"{v:.1f}" for v in speed["ray_items_per_s"])
        lines.append(f"{speed['items']:,} rows over two paced simulator hosts, {speed['concurrency_per_host']} "
                     f"streams each: Session.map {baseline} items/s; ollama_nb.ray.run {jobs} items/s with the "
                     f"workers up (ratio {fmt['x'](speed['check']['value'])}). Start-up: ray.init "
                     f"{speed['ray_init_s']:.1f} s, the host workers' start {speed['ray_actors_s']:.1f} s; the first "
                     f"job with both: {speed['ray_items_per_s_with_startup']:.1f} items/s "
                     f"({fmt['x'](speed['ratio_with_startup'])}).")
    if "check" in memory:
        small, big = memory["rows_20k"], memory["rows_200k"]
        lines += ["", f"Driver peak RSS growth: {small['growth_kib'] / 1024:.1f} MiB over 20,000 rows, "
                      f"{big['growth_kib'] / 1024:.1f} MiB over 200,000 rows (every row written, stopped after 2 s)."]
    return lines
