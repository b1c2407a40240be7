"""The classic comparison from articles on Ollama streaming, on the same (simulated) server.

Time to first token (request start → first content token in the caller's hands) and total time
(→ end of stream) of one ``/api/generate`` reply of 500 tokens at full speed, for requests,
httpx sync, httpx async, aiohttp and the official ``ollama`` package (each where installed)
next to ``ollama_nb.Client`` and ``ollama_nb.AsyncClient``. Every contender keeps one client
(pooled connection) for the whole run, as a notebook would. Baseline: httpx sync.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable

from ._common import MODEL, SimProcess, Sample, generate_body, interleave, log, summarize

BASELINE = "httpx sync"
TOKENS = 500
_clock = time.perf_counter


def _first_and_total(tokens: Any) -> Sample:
    """Drive an iterator of text pieces; time to the first non-empty piece and to the end."""
    start = _clock()
    first = None
    count = 0
    for piece in tokens():
        if piece:
            count += 1
            if first is None:
                first = _clock()
    end = _clock()
    return {"ttft_s": (first or end) - start, "total_s": end - start, "tokens": float(count)}


async def _afirst_and_total(tokens: Any) -> Sample:
    start = _clock()
    first = None
    count = 0
    async for piece in tokens():
        if piece:
            count += 1
            if first is None:
                first = _clock()
    end = _clock()
    return {"ttft_s": (first or end) - start, "total_s": end - start, "tokens": float(count)}


def bench_first_token(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    import httpx

    import ollama_nb

    url = sim.url
    prompt = f"Why is the sky blue? [[tokens={TOKENS}]]"
    body = generate_body(prompt)
    loop = asyncio.new_event_loop()
    closers: list[Callable[[], Any]] = []
    contenders: list[tuple[str, Callable[[], Sample]]] = []

    def sync(name: str, tokens: Any) -> None:
        contenders.append((name, lambda: _first_and_total(tokens)))

    def asynchronous(name: str, tokens: Any) -> None:
        contenders.append((name, lambda: loop.run_until_complete(_afirst_and_total(tokens))))

    # httpx sync: the baseline
    hx = httpx.Client(base_url=url, timeout=300)
    closers.append(hx.close)

    def httpx_sync() -> Any:
        with hx.stream("POST", "/api/generate", json=body) as response:
            for line in response.iter_lines():
                if line:
                    yield json.loads(line).get("response")

    sync(BASELINE, httpx_sync)

    ahx = httpx.AsyncClient(base_url=url, timeout=300)
    closers.append(lambda: loop.run_until_complete(ahx.aclose()))

    async def httpx_async() -> Any:
        async with ahx.stream("POST", "/api/generate", json=body) as response:
            async for line in response.aiter_lines():
                if line:
                    yield json.loads(line).get("response")

    asynchronous("httpx async", httpx_async)

    try:
        import requests
    except ImportError:
        pass
    else:
        rs = requests.Session()
        closers.append(rs.close)

        def requests_sync() -> Any:
            with rs.post(url + "/api/generate", json=body, stream=True) as response:
                for line in response.iter_lines():
                    if line:
                        yield json.loads(line).get("response")

        sync("requests", requests_sync)

    try:
        import aiohttp
    except ImportError:
        pass
    else:
        session_box: dict[str, Any] = {}

        async def make_session() -> None:
            session_box["s"] = aiohttp.ClientSession()

        loop.run_until_complete(make_session())
        closers.append(lambda: loop.run_until_complete(session_box["s"].close()))

        async def aiohttp_async() -> Any:
            async with session_box["s"].post(url + "/api/generate", json=body) as response:
                async for line in response.content:
                    if line.strip():
                        yield json.loads(line).get("response")

        asynchronous("aiohttp", aiohttp_async)

    try:
        import ollama
    except ImportError:
        pass
    else:
        official = ollama.Client(host=url)
        official_async = ollama.AsyncClient(host=url)

        def official_sync() -> Any:
            for part in official.generate(MODEL, prompt, stream=True):
                yield part.response

        async def official_aio() -> Any:
            async for part in await official_async.generate(MODEL, prompt, stream=True):
                yield part.response

        sync("ollama (official) sync", official_sync)
        asynchronous("ollama (official) async", official_aio)

    mine = ollama_nb.Client(url)
    mine_async = ollama_nb.AsyncClient(url)
    closers.append(mine.close)
    closers.append(lambda: loop.run_until_complete(mine_async.aclose()))

    def ollama_nb_sync() -> Any:
        for chunk in mine.generate(MODEL, prompt):
            yield chunk.content

    async def ollama_nb_async() -> Any:
        async for chunk in await mine_async.generate(MODEL, prompt):
            yield chunk.content

    sync("ollama_nb sync", ollama_nb_sync)
    asynchronous("ollama_nb async", ollama_nb_async)

    rounds = 10 if quick else 30
    log(f"first token: {len(contenders)} clients, {rounds} interleaved rounds of {TOKENS} tokens")
    try:
        samples = interleave(contenders, rounds, warmup=2)
    finally:
        for close in closers:
            try:
                close()
            except Exception:
                pass
        loop.close()
    counts = {s["tokens"] for rows in samples.values() for s in rows}
    if len(counts) != 1:
        raise RuntimeError(f"the clients saw different token counts: {sorted(counts)}")
    return {
        "baseline": BASELINE,
        "tokens": TOKENS,
        "rounds": rounds,
        "contenders": summarize(samples, BASELINE, ["ttft_s", "total_s"]),
    }
