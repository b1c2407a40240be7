"""Against the fastest Python clients: client CPU per token, ollama_nb on each transport vs raw loops.

One ``/api/generate`` reply of N tokens read to a ``str``, two ways: **paced** (the simulator
sleeps between lines, so each token's line arrives on its own, as Ollama flushes them) and at
**full speed** (lines coalesce in the socket). Client CPU per token (``time.process_time()`` of
this process / tokens) is the figure: the simulator runs in its own process. Contenders run
interleaved, a ratio is the median of the per-round ratios.

- async: raw aiohttp (``async for line in response.content`` + ``json.loads``), raw httpx
  (``aiter_lines`` + ``json.loads``, h11), ``ollama_nb.AsyncClient`` on aiohttp and on h11;
- sync: raw requests (``iter_lines`` + ``json.loads``), raw httpx (``iter_lines``, h11),
  ``ollama_nb.Client`` on urllib3 and on h11.

Targets (paced): AsyncClient ≤ 1.3x raw aiohttp, Client ≤ 1.5x raw requests, both ≤ 1.0x raw httpx.

Example:
    .venv/bin/python bench/run.py --quick --only transport
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import MODEL, SimProcess, Sample, generate_body, interleave, log, summarize

RAW_AIOHTTP = "raw aiohttp"
RAW_ASYNC_HTTPX = "raw httpx (async)"
RAW_REQUESTS = "raw requests"
RAW_HTTPX = "raw httpx"
MINE_ASYNC = "ollama_nb.AsyncClient (aiohttp)"
MINE_ASYNC_H11 = "ollama_nb.AsyncClient (h11)"
MINE_SYNC = "ollama_nb.Client (urllib3)"
MINE_SYNC_H11 = "ollama_nb.Client (h11)"
#: (contender, baseline, target ratio of client CPU, measured on the paced stream)
TARGETS = (
    (MINE_ASYNC, RAW_AIOHTTP, 1.3),
    (MINE_ASYNC, RAW_ASYNC_HTTPX, 1.0),
    (MINE_SYNC, RAW_REQUESTS, 1.5),
    (MINE_SYNC, RAW_HTTPX, 1.0),
)
#: Seconds the simulator waits between lines of a paced stream (2,000 lines/s at most).
PACE = 0.0005
ENV_VAR = "OLLAMA_NB_TRANSPORT"
#: A full-speed stream is this many times longer than a paced one (so that it lasts long enough to measure).
FULL_SPEED_SCALE = 10


def _prompt(tokens: int, paced: bool) -> str:
    return f"Tell me a long story. [[tokens={tokens}]]" + (f" [[delay={PACE}]]" if paced else "")


def _text_of(line: bytes) -> str:
    return json.loads(line).get("response") or ""


def _async_contenders(url: str, loop: asyncio.AbstractEventLoop) -> tuple[list[tuple[str, Any]], list[Any]]:
    """Each is ``run(prompt) -> text``; the async ones run on ``loop``, their clients made in it."""
    import aiohttp
    import httpx

    import ollama_nb

    async def make() -> tuple[Any, ...]:
        return (
            aiohttp.ClientSession(),
            httpx.AsyncClient(base_url=url, timeout=300),
            ollama_nb.AsyncClient(url, transport="aiohttp"),
            ollama_nb.AsyncClient(url, transport="h11"),
        )

    session, raw_httpx, mine, mine_h11 = loop.run_until_complete(make())

    async def raw_aiohttp(prompt: str) -> str:
        parts = []
        async with session.post(f"{url}/api/generate", json=generate_body(prompt)) as response:
            async for line in response.content:
                if line.strip():
                    parts.append(_text_of(line))
        return "".join(parts)

    async def raw_async_httpx(prompt: str) -> str:
        parts = []
        async with raw_httpx.stream("POST", "/api/generate", json=generate_body(prompt)) as response:
            async for line in response.aiter_lines():
                if line:
                    parts.append(_text_of(line.encode()))
        return "".join(parts)

    def ollama_nb_async(client: Any) -> Callable[[str], Awaitable[str]]:
        async def run(prompt: str) -> str:
            return str(await (await client.generate(MODEL, prompt)).aread())

        return run

    def blocking(run: Callable[[str], Awaitable[str]]) -> Callable[[str], str]:
        return lambda prompt: loop.run_until_complete(run(prompt))

    contenders = [
        (RAW_AIOHTTP, blocking(raw_aiohttp)),
        (RAW_ASYNC_HTTPX, blocking(raw_async_httpx)),
        (MINE_ASYNC, blocking(ollama_nb_async(mine))),
        (MINE_ASYNC_H11, blocking(ollama_nb_async(mine_h11))),
    ]

    async def close() -> None:
        await session.close()
        await raw_httpx.aclose()
        await mine.aclose()
        await mine_h11.aclose()

    return contenders, [lambda: loop.run_until_complete(close())]


def _sync_contenders(url: str) -> tuple[list[tuple[str, Any]], list[Any]]:
    import httpx
    import requests

    import ollama_nb

    session = requests.Session()
    raw_httpx = httpx.Client(base_url=url, timeout=300)
    mine = ollama_nb.Client(url, transport="urllib3")
    mine_h11 = ollama_nb.Client(url, transport="h11")

    def raw_requests(prompt: str) -> str:
        with session.post(f"{url}/api/generate", json=generate_body(prompt), stream=True) as response:
            return "".join(_text_of(line) for line in response.iter_lines() if line)

    def raw_sync_httpx(prompt: str) -> str:
        with raw_httpx.stream("POST", "/api/generate", json=generate_body(prompt)) as response:
            return "".join(_text_of(line.encode()) for line in response.iter_lines() if line)

    def ollama_nb_sync(client: Any) -> Callable[[str], str]:
        return lambda prompt: str(client.generate(MODEL, prompt).read())

    contenders = [
        (RAW_REQUESTS, raw_requests),
        (RAW_HTTPX, raw_sync_httpx),
        (MINE_SYNC, ollama_nb_sync(mine)),
        (MINE_SYNC_H11, ollama_nb_sync(mine_h11)),
    ]
    return contenders, [session.close, raw_httpx.close, mine.close, mine_h11.close]


def _timed(run: Any, prompt: str, tokens: int) -> Callable[[], Sample]:
    def sample() -> Sample:
        cpu, wall = time.process_time(), time.perf_counter()
        text = run(prompt)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {"wall_s": wall, "cpu_s": cpu, "us_per_token": cpu / tokens * 1e6, "chars": float(len(text))}

    return sample


def bench_transport(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    tokens, rounds = (1_000, 3) if quick else (5_000, 7)
    loop = asyncio.new_event_loop()
    async_contenders, closers = _async_contenders(sim.url, loop)
    sync_contenders, sync_closers = _sync_contenders(sim.url)
    closers += sync_closers
    out: dict[str, Any] = {"tokens": tokens, "rounds": rounds, "pace_s": PACE, "streams": {}}
    try:
        for paced in (True, False):
            mode = "paced" if paced else "full speed"
            size = tokens if paced else tokens * FULL_SPEED_SCALE
            prompt = _prompt(size, paced)
            contenders = async_contenders + sync_contenders
            log(f"transport: {size} tokens, {mode}, {rounds} interleaved rounds of {len(contenders)} clients")
            samples = interleave([(name, _timed(run, prompt, size)) for name, run in contenders], rounds)
            lengths = {s["chars"] for rows in samples.values() for s in rows}
            if len(lengths) != 1:
                raise RuntimeError(f"the contenders read different texts (lengths {sorted(lengths)})")
            out["streams"][mode] = {
                side: {
                    baseline: summarize({n: samples[n] for n in names}, baseline, ["us_per_token", "wall_s"])
                    for baseline in baselines
                }
                for side, names, baselines in (
                    ("async", [RAW_AIOHTTP, RAW_ASYNC_HTTPX, MINE_ASYNC, MINE_ASYNC_H11],
                     [RAW_AIOHTTP, RAW_ASYNC_HTTPX]),
                    ("sync", [RAW_REQUESTS, RAW_HTTPX, MINE_SYNC, MINE_SYNC_H11], [RAW_REQUESTS, RAW_HTTPX]),
                )
            }
    finally:
        for close in closers:
            close()
        loop.close()
    out["checks"] = {f"{name} / {baseline}": _check(out, name, baseline, target) for name, baseline, target in TARGETS}
    out["batch"] = _bench_batch(sim, quick=quick)
    return out


#: One item of the batch comparison: a 200-token answer at full speed.
BATCH_ITEM = "item {item} [[tokens=200]]"


def _bench_batch(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    """``Session.map`` over two full-speed simulator hosts (4 streams each), AsyncClient on aiohttp vs h11."""
    from .batch import _timed_map

    items = list(range(100 if quick else 400))

    def on(transport: str, hosts: list[str]) -> Callable[[], Sample]:
        def sample() -> Sample:
            os.environ[ENV_VAR] = transport  # read when the session makes its AsyncClient
            cpu = time.process_time()
            try:
                result = _timed_map(hosts, BATCH_ITEM, items)
            finally:
                del os.environ[ENV_VAR]
            return {**result, "cpu_s": time.process_time() - cpu}

        return sample

    with SimProcess() as second:
        hosts = [sim.url, second.url]
        log(f"transport: Session.map of {len(items)} items over two hosts, aiohttp vs h11")
        samples = interleave([("h11", on("h11", hosts)), ("aiohttp", on("aiohttp", hosts))], 3 if quick else 5)
    return {"items": len(items), "prompt": BATCH_ITEM, "hosts": 2,
            "contenders": summarize(samples, "h11", ["items_per_s", "cpu_s", "wall_s"])}


def _side(name: str) -> str:
    return "async" if "Async" in name or name in (RAW_AIOHTTP, RAW_ASYNC_HTTPX) else "sync"


def _check(out: dict[str, Any], name: str, baseline: str, target: float) -> dict[str, Any]:
    ratio = out["streams"]["paced"][_side(name)][baseline][name]["us_per_token"]["ratio"]
    return {"value": ratio, "target": f"<= {target}", "met": ratio is not None and ratio <= target}


def transport_targets(
    area: dict[str, Any], fmt: dict[str, Callable[[Any], str]]
) -> list[tuple[str, str, str, bool | None]]:
    """The targets table's rows for this area."""
    if "checks" not in area:
        return [("transport: client CPU per token vs the fastest clients", "error", "", False)]
    return [
        (f"client CPU per token, paced {area['tokens']:,}-token stream: {key}", fmt["x"](c["value"]),
         "≤ " + c["target"].removeprefix("<= ") + "x", c["met"])
        for key, c in area["checks"].items()
    ]


def transport_section(area: dict[str, Any]) -> list[str]:
    """The report's section for this area."""
    lines = ["### Against the fastest Python clients (HTTP transports)", "",
             f"One {area['tokens']:,}-token `/api/generate` reply read to a `str`, "
             f"{area['rounds']} interleaved rounds: paced (a line every {area['pace_s'] * 1000:g} ms at most, "
             "each token's line on its own) and at full speed "
             f"({area['tokens'] * FULL_SPEED_SCALE:,} tokens). "
             "Client CPU per token (this process); ratios are medians of per-round ratios, on each side to the "
             "fastest raw loop (aiohttp, requests) and to raw httpx (h11).", "",
             "| stream | client | µs / token (median) | vs raw aiohttp / requests | vs raw httpx | wall (median) |",
             "|---|---|---|---|---|---|"]
    for mode, sides in area["streams"].items():
        for side, by_baseline in sides.items():
            fastest, httpx_base = list(by_baseline)
            for name, c in by_baseline[fastest].items():
                per_token = c["us_per_token"]
                versus_httpx = by_baseline[httpx_base][name]["us_per_token"]["ratio"]
                lines.append(f"| {mode}, {side} | {name} | {per_token['median']:.0f} | {per_token['ratio']:.2f}x | "
                             f"{versus_httpx:.2f}x | {c['wall_s']['median']:.2f} s |")
    batch = area.get("batch")
    if batch:
        lines += ["", f"`Session.map` of {batch['items']} items ({batch['prompt']!r}) over {batch['hosts']} full-speed "
                  "simulator hosts, 4 streams a host, AsyncClient on each transport (interleaved):", "",
                  "| transport | items/s (median) | vs h11 | client CPU (median) | vs h11 |", "|---|---|---|---|---|"]
        for name, c in batch["contenders"].items():
            lines.append(f"| {name} | {c['items_per_s']['median']:.0f} | {c['items_per_s']['ratio']:.2f}x | "
                         f"{c['cpu_s']['median']:.2f} s | {c['cpu_s']['ratio']:.2f}x |")
    return lines
