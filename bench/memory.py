"""Memory: peak RSS while reading a 100,000-token reply, and leaks over many ``%%ollama`` cells.

Peak: a fresh process per run (bench/_rss_child.py) reads one reply to a ``str`` with raw httpx
(baseline), ``ollama_nb.Client`` or the official package; peak RSS is VmHWM, and the stream's
own share is the peak minus the RSS after imports, client and a short warm-up reply.

Leaks: per kernelspec, two kernels run the same number of small cells interleaved (cell i in
one, then cell i in the other): ``%%ollama`` cells in one, raw httpx cells in the other
(baseline). At cell ``first`` and at the last cell each kernel reports, after ``gc.collect()``,
Python threads, OS threads, socket file descriptors, live ipywidgets (``_instances``), session
turns and RSS. Target: no growth beyond the baseline's (threads, sockets and live widgets: none
at all; RSS: within ``RSS_NOISE_KIB`` of the baseline's growth). Turns grow by design (the
session keeps one per cell).
"""

from __future__ import annotations

import json
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

from ._common import MODEL, SimProcess, Sample, interleave, log, summarize
from ._kernel import STATS_CODE, Kernel, magic_cell, raw_cell, setup_code

PEAK_TOKENS = 100_000
LEAK_PROMPT = "Say something short. [[tokens=20]]"
RSS_NOISE_KIB = 2048


# -- peak RSS -----------------------------------------------------------------------------------------
def _peak_sample(sim: SimProcess, client: str) -> Sample:
    child = Path(__file__).with_name("_rss_child.py")
    done = subprocess.run([sys.executable, str(child), client, sim.url, str(PEAK_TOKENS)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{client} child failed: {done.stderr[-600:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return {"peak_kib": float(data["peak_kib"]), "setup_kib": float(data["setup_kib"]),
            "stream_kib": float(data["peak_kib"] - data["setup_kib"]), "chars": float(data["chars"])}


def bench_peak(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    rounds = 1 if quick else 2
    contenders = [("raw httpx", "raw"), ("ollama_nb.Client", "ollama_nb")]
    try:
        import ollama  # noqa: F401
    except ImportError:
        pass
    else:
        if not quick:
            contenders.append(("ollama (official)", "official"))
    log(f"memory: peak RSS of a {PEAK_TOKENS:,}-token reply, {rounds} interleaved rounds of {len(contenders)} processes")
    samples = interleave([(name, lambda c=client: _peak_sample(sim, c)) for name, client in contenders], rounds, warmup=0)
    lengths = {s["chars"] for rows in samples.values() for s in rows}
    if len(lengths) != 1:
        raise RuntimeError(f"the clients read different texts: {sorted(lengths)}")
    summary = summarize(samples, "raw httpx", ["peak_kib", "setup_kib", "stream_kib"])
    ratio = summary["ollama_nb.Client"]["stream_kib"]["ratio"]
    return {
        "tokens": PEAK_TOKENS,
        "reply_chars": int(lengths.pop()),
        "rounds": rounds,
        "contenders": summary,
        "check": {"value": ratio, "target": "report (no target)", "met": None},
    }


# -- leaks over many cells ----------------------------------------------------------------------------
def _stats(kernel: Kernel) -> dict[str, Any]:
    return kernel.value(STATS_CODE)


def bench_leaks_one(sim: SimProcess, name: str, cells: int, first: int) -> dict[str, Any]:
    with Kernel(name) as magic, Kernel(name) as raw:
        for kernel in (magic, raw):
            kernel.run(setup_code(sim.url, MODEL))
        log(f"memory: {cells} consecutive cells in two {name} kernels (%%ollama / raw httpx), interleaved")
        readings: dict[str, dict[str, Any]] = {"%%ollama": {}, "raw httpx": {}}
        counter = {"n": 0}

        def step_magic() -> Sample:
            cell = magic.run(magic_cell(LEAK_PROMPT), timeout=120)
            n = counter["n"] + 1
            if n in (first, cells):
                readings["%%ollama"]["first" if n == first else "last"] = _stats(magic)
            return {"wall_s": cell.wall_s}

        def step_raw() -> Sample:
            cell = raw.run(raw_cell(LEAK_PROMPT), timeout=120)
            counter["n"] += 1
            n = counter["n"]
            if n in (first, cells):
                readings["raw httpx"]["first" if n == first else "last"] = _stats(raw)
            return {"wall_s": cell.wall_s}

        samples = interleave([("%%ollama", step_magic), ("raw httpx", step_raw)], cells, warmup=0)
    out: dict[str, Any] = {"contenders": {}}
    for who, r in readings.items():
        growth = {key: (r["last"][key] - r["first"][key]) if isinstance(r["first"].get(key), int) else None
                  for key in r["first"]}
        out["contenders"][who] = {"first": r["first"], "last": r["last"], "growth": growth}
    wall = summarize(samples, "raw httpx", ["wall_s"])
    out["cell_wall_s"] = {who: wall[who]["wall_s"]["median"] for who in wall}
    g, b = out["contenders"]["%%ollama"]["growth"], out["contenders"]["raw httpx"]["growth"]
    threads_ok = g["threads"] <= max(b["threads"], 0) and g["os_threads"] <= max(b["os_threads"], 0)
    sockets_ok = g["sockets"] <= max(b["sockets"], 0)
    rss_ok = g["rss_kib"] <= b["rss_kib"] + RSS_NOISE_KIB
    widgets_ok = not g.get("widgets")
    out["first"], out["last"] = first, cells
    out["check"] = {
        "value": {"threads": g["threads"], "os_threads": g["os_threads"], "sockets": g["sockets"], "rss_kib": g["rss_kib"],
                  "baseline_rss_kib": b["rss_kib"], "widgets": g.get("widgets")},
        "text": f"threads {g['threads']:+d}, sockets {g['sockets']:+d}, RSS {g['rss_kib']:+,d} KiB "
                f"(raw: {b['rss_kib']:+,d} KiB), live widgets {g.get('widgets') or 0:+d}",
        "target": f"threads +0, sockets +0, live widgets +0, RSS within {RSS_NOISE_KIB} KiB of the baseline's growth",
        "met": threads_ok and sockets_ok and rss_ok and widgets_ok,
    }
    return out


def bench_leaks(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    cells, first = 200, 20
    kernels = ("onb-k7",) if quick else ("onb-k6", "onb-k7")
    out: dict[str, Any] = {"cells": cells, "first": first, "last": cells, "prompt": LEAK_PROMPT, "kernels": {}}
    for name in kernels:
        try:
            out["kernels"][name] = bench_leaks_one(sim, name, cells, first)
        except Exception as exc:
            log(f"memory: leaks on {name} FAILED: {exc!r}")
            out["kernels"][name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return out


def bench_memory(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, run in (("peak", bench_peak), ("leaks", bench_leaks)):
        try:
            out[section] = run(sim, quick=quick)
        except Exception as exc:
            log(f"memory: {section} FAILED: {exc!r}")
            out[section] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return out
