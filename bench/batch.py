"""One prompt over many items: ``Session.map`` and ``%%ollama --over`` against the simulator.

- **Throughput**: N items at full speed with the same concurrency, ``Session.map(...).wait()``
  against a hand-written asyncio + httpx loop (a ``Semaphore``, one task per item,
  ``aiter_lines`` + ``json.loads``). Figure: items/s ours ÷ items/s hand-written; target ≥ 0.95.
- **Two hosts against one**: two simulator processes, each item paced (``[[delay]]``), so a host
  serves ``concurrency`` streams at a time; the same batch over both hosts and over one.
  Figure: wall(one) ÷ wall(two); target ≥ 1.8.
- **10,000 items in a kernel** (ipykernel 7): ``%%ollama --over xs -o out`` at full speed, with
  the record on (a fresh file): iopub bytes of the whole cell (target ≤ 300 KB) and the kernel's
  RSS growth (reported), beside a hand-written loop's RSS growth for the same 10,000 answers.
- **Stop**: ``Batch.stop()`` with ``concurrency`` streams open → the server has seen every one of
  them close (the last ``disconnect``). Target median ≤ 0.3 s; beside it the hand-written loop's
  tasks cancelled, the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from typing import Any

from ._common import MODEL, SimProcess, Sample, interleave, median, paired_ratio, run_parts, summarize
from ._kernel import STATS_CODE, Kernel, setup_code

CONCURRENCY = 4
FULL_SPEED_ITEM = "item {item} [[tokens=20]]"
PACED_ITEM = "item {item} [[tokens=20]] [[delay=0.01]]"  # 0.2 s an item: the host, not the client, limits
LONG_ITEM = "item {item} [[tokens=3000]] [[delay=0.01]]"
BIG_BATCH = 10_000
TARGET_THROUGHPUT = 0.95
TARGET_TWO_HOSTS = 1.8
TARGET_IOPUB_BYTES = 300_000
TARGET_STOP_S = 0.3


# -- the hand-written baseline --------------------------------------------------------------------
async def _handwritten(url: str, prompts: list[str], concurrency: int, started: list[Any] | None = None) -> list[str]:
    """What a user writes without ollama_nb: a semaphore, a task per item, answers by position."""
    import httpx

    answers = [""] * len(prompts)
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:

        async def one(position: int, prompt: str) -> None:
            async with limit:
                parts = []
                async with client.stream("POST", "/api/generate", json={"model": MODEL, "prompt": prompt}) as response:
                    async for line in response.aiter_lines():
                        if line:
                            parts.append(json.loads(line).get("response") or "")
                answers[position] = "".join(parts)

        tasks = [asyncio.ensure_future(one(i, p)) for i, p in enumerate(prompts)]
        if started is not None:
            started.extend(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)
    return answers


def _session(url: str) -> Any:
    from ollama_nb import Session

    return Session(model=MODEL, host=url, record=False)


def _timed_map(hosts: list[str], prompt: str, items: list[int]) -> Sample:
    """One ``Session.map`` over ``items`` to the end: items/s and wall time."""
    t0 = time.perf_counter()
    batch = _session(hosts[0]).map(prompt, items, concurrency=CONCURRENCY, hosts=hosts, cache=False)
    batch.wait()
    wall = time.perf_counter() - t0
    assert batch.progress().ok == len(items), batch.progress().line()
    return {"items_per_s": len(items) / wall, "wall_s": wall}


def _items_per_s_ratio(samples: dict[str, list[Sample]], name: str, baseline: str, target: float, **about: Any) -> dict[str, Any]:
    """The area's result: what was run, each contender's figures, and the items/s ratio checked."""
    ratio = paired_ratio(samples, name, baseline, "items_per_s")
    return {
        **about,
        "contenders": summarize(samples, baseline, ["items_per_s", "wall_s"]),
        "check": {"value": ratio, "target": f">= {target}", "met": ratio is not None and ratio >= target},
    }


# -- throughput -----------------------------------------------------------------------------------
def bench_throughput(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    n = 300 if quick else 1000
    items = list(range(n))
    prompts = [FULL_SPEED_ITEM.format(item=i) for i in items]

    def ours() -> Sample:
        return _timed_map([sim.url], FULL_SPEED_ITEM, items)

    def handwritten() -> Sample:
        t0 = time.perf_counter()
        answers = asyncio.run(_handwritten(sim.url, prompts, CONCURRENCY))
        wall = time.perf_counter() - t0
        assert all(answers)
        return {"items_per_s": n / wall, "wall_s": wall}

    samples = interleave([("hand-written asyncio + httpx", handwritten), ("Session.map", ours)], 5 if quick else 9)
    return _items_per_s_ratio(samples, "Session.map", "hand-written asyncio + httpx", TARGET_THROUGHPUT,
                              items=n, concurrency=CONCURRENCY, prompt=FULL_SPEED_ITEM)


# -- two hosts against one ------------------------------------------------------------------------
def bench_two_hosts(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    n = 48 if quick else 128
    items = list(range(n))
    with SimProcess() as second:
        samples = interleave([("one host", lambda: _timed_map([sim.url], PACED_ITEM, items)),
                              ("two hosts", lambda: _timed_map([sim.url, second.url], PACED_ITEM, items))],
                             5 if quick else 7)
    return _items_per_s_ratio(samples, "two hosts", "one host", TARGET_TWO_HOSTS,
                              items=n, concurrency_per_host=CONCURRENCY, prompt=PACED_ITEM)


# -- 10,000 items in a kernel ---------------------------------------------------------------------
def bench_big_batch(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    db = os.path.join(tempfile.mkdtemp(prefix="onb-bench-batch-"), "record.db")
    os.environ["OLLAMA_NB_DB"] = db  # the kernel inherits it: every item is written to the record
    try:
        with Kernel("onb-k7") as kernel:
            kernel.run(setup_code(sim.url, MODEL))
            kernel.run(f"xs = list(range({BIG_BATCH}))\n_prompts = [f'item {{i}} [[tokens=5]]' for i in xs]")
            before = kernel.value(STATS_CODE)
            cell = kernel.run(f"%%ollama --over xs -o out --concurrency {CONCURRENCY}\nitem {{item}} [[tokens=5]]", timeout=900)
            after = kernel.value(STATS_CODE)
            done = kernel.value("import json; print(json.dumps(sum(a is not None for a in out)))")
            raw_cell = (
                "import asyncio as _asyncio, httpx as _hx\n"
                "_answers = [''] * len(_prompts)\n"
                "async def _main():\n"
                f"    _limit = _asyncio.Semaphore({CONCURRENCY})\n"
                f"    async with _hx.AsyncClient(base_url={sim.url!r}, timeout=300) as _c:\n"
                "        async def _one(i, p):\n"
                "            async with _limit:\n"
                "                _parts = []\n"
                f"                async with _c.stream('POST', '/api/generate', json={{'model': {MODEL!r}, 'prompt': p}}) as _r:\n"
                "                    async for _l in _r.aiter_lines():\n"
                "                        if _l: _parts.append(_json.loads(_l).get('response') or '')\n"
                "                _answers[i] = ''.join(_parts)\n"
                "        await _asyncio.gather(*(_one(i, p) for i, p in enumerate(_prompts)))\n"
                "await _main()\n"
            )
            raw_before = kernel.value(STATS_CODE)
            raw = kernel.run(raw_cell, timeout=900)
            raw_after = kernel.value(STATS_CODE)
    finally:
        os.environ["OLLAMA_NB_DB"] = "off"
    growth = after["rss_kib"] - before["rss_kib"]
    raw_growth = raw_after["rss_kib"] - raw_before["rss_kib"]
    return {
        "items": BIG_BATCH, "answered": done, "wall_s": cell.wall_s, "iopub_bytes": cell.iopub_bytes,
        "iopub_msgs": len(cell.messages), "rss_growth_kib": growth, "raw_loop_rss_growth_kib": raw_growth,
        "raw_loop_wall_s": raw.wall_s, "raw_loop_iopub_bytes": raw.iopub_bytes,
        "check": {"value": cell.iopub_bytes, "target": f"<= {TARGET_IOPUB_BYTES}", "met": cell.iopub_bytes <= TARGET_IOPUB_BYTES},
    }


# -- stop -----------------------------------------------------------------------------------------
def _all_closed_after(sim: SimProcess, mark: int, start: float, count: int) -> float | None:
    """Seconds from ``start`` until the server has seen ``count`` closes; None if not within 5 s."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        closes = [e for e in sim.events(mark) if e.kind == "disconnect"]
        if len(closes) >= count:
            return max(e.time for e in closes[:count]) - start
        time.sleep(0.005)
    return None


def bench_stop(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    items = list(range(3 * CONCURRENCY))

    def wait_streams(mark: int) -> None:
        while sum(e.kind == "request" for e in sim.events(mark)) < CONCURRENCY:
            time.sleep(0.005)
        time.sleep(0.2)  # the streams are in their steady state

    def ours() -> Sample:
        mark = sim.mark()
        batch = _session(sim.url).map(LONG_ITEM, items, concurrency=CONCURRENCY, cache=False)
        wait_streams(mark)
        start = time.monotonic()
        batch.stop()
        closed = _all_closed_after(sim, mark, start, CONCURRENCY)
        batch.wait(10)
        return {"all_closed_s": closed} if closed is not None else {}

    def handwritten() -> Sample:
        import threading

        mark = sim.mark()
        tasks: list[Any] = []
        loop = asyncio.new_event_loop()
        prompts = [LONG_ITEM.format(item=i) for i in items]
        thread = threading.Thread(target=lambda: loop.run_until_complete(_handwritten(sim.url, prompts, CONCURRENCY, tasks)))
        thread.start()
        wait_streams(mark)
        start = time.monotonic()
        loop.call_soon_threadsafe(lambda: [t.cancel() for t in tasks])
        closed = _all_closed_after(sim, mark, start, CONCURRENCY)
        thread.join(10)
        loop.close()
        return {"all_closed_s": closed} if closed is not None else {}

    samples = interleave([("hand-written: cancel every task", handwritten), ("Batch.stop()", ours)], 5 if quick else 15)
    value = median(s.get("all_closed_s") for s in samples["Batch.stop()"])
    lost = sum("all_closed_s" not in s for s in samples["Batch.stop()"])
    return {
        "streams": CONCURRENCY,
        "contenders": summarize(samples, "hand-written: cancel every task", ["all_closed_s"]),
        "lost": lost,
        "check": {"value": value, "target": f"<= {TARGET_STOP_S}", "met": value is not None and value <= TARGET_STOP_S and not lost},
    }


def bench_batch(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    return run_parts("batch", (("throughput", bench_throughput), ("two_hosts", bench_two_hosts), ("stop", bench_stop),
                               ("big_batch", bench_big_batch)), sim, quick=quick)
