"""The record's costs, in one run against the simulator process:

- **recording a turn**: the time ``SessionRecording.write`` takes inside a reply's done callback
  (one ``INSERT`` with the FTS trigger), median per turn over a record that keeps growing;
  target ≤ 2 ms. And the per-token cost: a 5,000-token reply read to its done line with the
  record on vs off (``record=False``), interleaved; target ≈ 1x (≤ 1.05x); the write of that long
  turn (after the done line) is reported apart.
- **a cache hit in a real kernel** (onb-k7): execute request sent → first iopub message carrying
  the answer, for a repeated ``%%ollama --cache`` cell; target ≤ 50 ms. Baselines in the same
  kernel: a cell that only prints the same marker (the kernel's own floor), and the same cell
  without ``--cache`` (a request to the simulator at full speed).
- **``%ollama log --search``** over 100,000 recorded turns (IPython shell, the magic's whole path
  including the table), for a rare word, a common word and two words; target ≤ 200 ms for each.
  Baseline: ``%ollama log`` (no search) over the same file.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from ._common import MODEL, SimProcess, Sample, interleave, log, median, summarize
from ._kernel import Kernel, setup_code

TARGET_WRITE_S = 0.002
TARGET_TOKEN_RATIO = 1.05
TARGET_CACHE_HIT_S = 0.050
TARGET_SEARCH_S = 0.200
MARKER = "simulated"
LONG_PROMPT = "Write a long essay about rivers. [[tokens=5000]]"
SEARCH_TURNS = 100_000


# -- recording a turn -------------------------------------------------------------------------------
def _timed_writes(session: Any) -> list[float]:
    """Wrap the session's ``write`` so each call's duration is kept."""
    recording = session.recording
    durations: list[float] = []
    write = recording.write

    def timed(*args: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        write(*args, **kwargs)
        durations.append(time.perf_counter() - start)

    recording.write = timed
    return durations


def bench_write(sim: SimProcess, folder: Path, *, quick: bool) -> dict[str, Any]:
    from ollama_nb import Session
    from ollama_nb._record import Record

    record = Record(folder / "write.db")
    on = Session(MODEL, host=sim.url, name="bench", record=record)
    off = Session(MODEL, host=sim.url, name="bench", record=False)
    durations = _timed_writes(on)
    turns = 200 if quick else 1000
    on.generate("warm up [[tokens=2]]").read()  # the file is created and migrated here, not in a measured turn
    durations.clear()
    log(f"record: {turns} recorded turns (short replies, a growing conversation reset every 20 turns)")
    for index in range(turns):
        if index % 20 == 0:
            on.reset()
        on.chat(f"Turn {index}: tell me about rivers. [[tokens=40]]").read()
    write_median = median(durations)

    rounds = 5 if quick else 11
    long_writes: list[float] = []

    def read(session: Any) -> Sample:
        """Wall and CPU time to the done line (the per-token path; the turn is written after it)."""
        before = len(durations)
        t0, c0 = time.perf_counter(), time.process_time()
        for chunk in session.generate(LONG_PROMPT):
            if chunk.done:
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        long_writes.extend(durations[before:])
        return {"wall_s": wall, "cpu_s": cpu}

    log(f"record: {rounds} interleaved rounds of a 5,000-token reply, record on vs off")
    samples = interleave([("record off", lambda: read(off)), ("record on", lambda: read(on))], rounds)
    summary = summarize(samples, "record off", ["wall_s", "cpu_s"])
    wall_ratio = summary["record on"]["wall_s"]["ratio"]
    cpu_ratio = summary["record on"]["cpu_s"]["ratio"]
    return {
        "turns": turns,
        "write_s": {"median": write_median, "p90": sorted(durations)[int(len(durations) * 0.9)], "max": max(durations)},
        "long_write_s": {"median": median(long_writes), "max": max(long_writes) if long_writes else None},
        "long_reply": {"prompt": LONG_PROMPT, "rounds": rounds, "contenders": summary},
        "checks": {
            "write": {"value": write_median, "target": f"<= {TARGET_WRITE_S}", "met": write_median is not None and write_median <= TARGET_WRITE_S},
            "per_token_wall": {"value": wall_ratio, "target": f"<= {TARGET_TOKEN_RATIO}",
                               "met": wall_ratio is not None and wall_ratio <= TARGET_TOKEN_RATIO},
            "per_token_cpu": {"value": cpu_ratio, "target": f"<= {TARGET_TOKEN_RATIO}",
                              "met": cpu_ratio is not None and cpu_ratio <= TARGET_TOKEN_RATIO},
        },
    }


# -- a cache hit in a kernel ------------------------------------------------------------------------
def _first_text_s(kernel: Kernel, code: str) -> Sample:
    cell = kernel.run(code, timeout=120)
    for m in cell.messages:
        if m.msg_type in ("stream", "display_data", "update_display_data", "execute_result"):
            if MARKER in str(m.content.get("text", "")) or MARKER in str(m.content.get("data", "")):
                return {"first_text_s": m.received - cell.sent, "wall_s": cell.wall_s}
    return {"first_text_s": None, "wall_s": cell.wall_s}


def bench_cache_hit(sim: SimProcess, folder: Path, *, quick: bool) -> dict[str, Any]:
    prompt = "A haiku about rivers. [[markdown]]"
    cached = f"%%ollama --cache --seed 7\n{prompt}\n"
    uncached = f"%%ollama --no-cache --seed 7\n{prompt}\n"
    floor = "print('*(simulated reply)* a printed line')"
    saved = os.environ.get("OLLAMA_NB_DB")
    os.environ["OLLAMA_NB_DB"] = str(folder / "kernel.db")
    try:
        with Kernel("onb-k7") as kernel:
            kernel.run(setup_code(sim.url, MODEL))
            kernel.run(cached)  # recorded once; every later run is a hit
            rounds = 8 if quick else 20
            log(f"record: cache hit in onb-k7, {rounds} interleaved rounds")
            samples = interleave(
                [("print cell", lambda: _first_text_s(kernel, floor)),
                 ("%%ollama --cache (hit)", lambda: _first_text_s(kernel, cached)),
                 ("%%ollama (asks the simulator)", lambda: _first_text_s(kernel, uncached))],
                rounds, warmup=1,
            )
    finally:
        if saved is None:
            os.environ.pop("OLLAMA_NB_DB", None)
        else:
            os.environ["OLLAMA_NB_DB"] = saved
    summary = summarize(samples, "print cell", ["first_text_s", "wall_s"])
    hit = summary["%%ollama --cache (hit)"]["first_text_s"]["median"]
    return {
        "prompt": prompt,
        "rounds": rounds,
        "contenders": summary,
        "check": {"value": hit, "target": f"<= {TARGET_CACHE_HIT_S}", "met": hit is not None and hit <= TARGET_CACHE_HIT_S},
    }


# -- searching 100,000 turns ------------------------------------------------------------------------
def _fill(path: Path, turns: int) -> None:
    """``turns`` realistic rows (prompt ~12 words, reply ~80 words), in one transaction."""
    from ollama_nb._record import Record, RecordedTurn

    rng = random.Random(10)
    words = [f"w{n}" for n in range(5000)] + ["river"] * 40 + ["ocean"] * 10
    record = Record(path)
    db = record.connection()
    rows = []
    for index in range(turns):
        prompt = " ".join(rng.choices(words, k=12)) + (" kingfisher" if index % 9973 == 0 else "")
        text = " ".join(rng.choices(words, k=80))
        entry = RecordedTurn(host="http://127.0.0.1:11434", endpoint="chat", model=MODEL, prompt=prompt, text=text,
                             session=f"s{index % 50}", conversation=f"c{index // 10}",
                             messages=({"role": "user", "content": prompt}, {"role": "assistant", "content": text}))
        rows.append(entry.as_row())
    columns = ", ".join(rows[0])
    db.execute("BEGIN")
    db.executemany(f"INSERT INTO turns ({columns}) VALUES ({', '.join(':' + c for c in rows[0])})", rows)
    db.execute("COMMIT")
    record.close()


def bench_search(folder: Path, *, quick: bool) -> dict[str, Any]:
    from IPython.core.interactiveshell import InteractiveShell

    path = folder / "search.db"
    t0 = time.perf_counter()
    _fill(path, SEARCH_TURNS)
    log(f"record: {SEARCH_TURNS:,} turns written in {time.perf_counter() - t0:.1f} s; timing %ollama log --search")
    saved = os.environ.get("OLLAMA_NB_DB")
    os.environ["OLLAMA_NB_DB"] = str(path)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "ollama_nb")
    queries = {
        "%ollama log (no search)": "log",
        "rare word (11 turns)": "log --search kingfisher",
        "common word (~55% of turns)": "log --search river",
        "two words": "log --search river ocean",
    }
    shell.display_pub.publish = lambda *a, **k: None  # time the magic, not the terminal's printing

    def timed(line: str) -> Sample:
        start = time.perf_counter()
        shell.run_line_magic("ollama", line)
        return {"s": time.perf_counter() - start}

    try:
        rounds = 7 if quick else 21
        samples = interleave([(name, lambda line=line: timed(line)) for name, line in queries.items()], rounds)
        found = {name: len(shell.run_line_magic("ollama", line)) for name, line in queries.items()}
    finally:
        shell.run_line_magic("unload_ext", "ollama_nb")
        if saved is None:
            os.environ.pop("OLLAMA_NB_DB", None)
        else:
            os.environ["OLLAMA_NB_DB"] = saved
    summary = summarize(samples, "%ollama log (no search)", ["s"])
    worst = max(summary[name]["s"]["median"] for name in queries if name != "%ollama log (no search)")
    return {
        "turns": SEARCH_TURNS,
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "rounds": rounds,
        "rows_shown": found,
        "contenders": summary,
        "check": {"value": worst, "target": f"<= {TARGET_SEARCH_S}", "met": worst <= TARGET_SEARCH_S},
    }


def bench_record(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="onb-bench-record-") as tmp:
        folder = Path(tmp)
        out: dict[str, Any] = {}
        for name, run in (("write", lambda: bench_write(sim, folder, quick=quick)),
                          ("cache_hit", lambda: bench_cache_hit(sim, folder, quick=quick)),
                          ("search", lambda: bench_search(folder, quick=quick))):
            try:
                out[name] = run()
            except Exception as exc:
                import traceback

                log(f"record {name} FAILED: {exc!r}")
                out[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        return out


# -- the report ----------------------------------------------------------------------------------------
def record_targets(area: dict[str, Any], fmt: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """Rows of the targets table for this area (``fmt``: report.py's ``_ms``/``_x``)."""
    ms, x = fmt["ms"], fmt["x"]
    rows: list[tuple[str, str, str, bool | None]] = []
    write = area.get("write", {})
    if "checks" in write:
        c = write["checks"]
        rows.append(("record: time a turn's recording adds (median per turn)", ms(c["write"]["value"]), "≤ 2 ms", c["write"]["met"]))
        rows.append(("record: 5,000-token stream to its done line, record on / off, wall", x(c["per_token_wall"]["value"]), "≈ 1x (≤ 1.05x)", c["per_token_wall"]["met"]))
        rows.append(("record: 5,000-token stream to its done line, record on / off, client CPU", x(c["per_token_cpu"]["value"]), "≈ 1x (≤ 1.05x)", c["per_token_cpu"]["met"]))
    elif "error" in write:
        rows.append(("record: recording a turn", "error", "≤ 2 ms", False))
    for key, label, target in (("cache_hit", "record: `--cache` hit in a kernel, execute request → answer on iopub", "≤ 50 ms"),
                               ("search", f"record: `%ollama log --search` over {SEARCH_TURNS:,} turns (slowest query)", "≤ 200 ms")):
        part = area.get(key, {})
        if "check" in part:
            rows.append((label, ms(part["check"]["value"]), target, part["check"]["met"]))
        elif "error" in part:
            rows.append((label, "error", target, False))
    return rows


def render_record(area: dict[str, Any], fmt: dict[str, Any]) -> list[str]:
    """The report's section for this area."""
    ms, x, table = fmt["ms"], fmt["x"], fmt["table"]
    lines = ["### The record (SQLite)", ""]
    write = area.get("write", {})
    if "write_s" in write:
        w = write["write_s"]
        lines += [f"Recording a turn (`SessionRecording.write`: one `INSERT` with its FTS5 trigger, WAL, "
                  f"`synchronous=NORMAL`), {write['turns']} turns into a growing file: median {ms(w['median'])}, "
                  f"p90 {ms(w['p90'])}, max {ms(w['max'])}; a 5,000-token turn: median "
                  f"{ms(write['long_write_s']['median'])}, max {ms(write['long_write_s']['max'])}.", ""]
        rows = [[name, ms(c["wall_s"]["median"]), x(c["wall_s"]["ratio"]), ms(c["cpu_s"]["median"]), x(c["cpu_s"]["ratio"])]
                for name, c in write["long_reply"]["contenders"].items()]
        lines += [f"`{write['long_reply']['prompt']}` read to its done line, {write['long_reply']['rounds']} interleaved rounds:", ""]
        lines += table(["session", "wall (median)", "vs off", "client CPU (median)", "vs off"], rows) + [""]
    hit = area.get("cache_hit", {})
    if "contenders" in hit:
        rows = [[name, ms(c["first_text_s"]["median"]), x(c["first_text_s"]["ratio"]), ms(c["wall_s"]["median"])]
                for name, c in hit["contenders"].items()]
        lines += [f"A repeated cell in onb-k7 (`{hit['prompt']}`), execute request sent → first iopub message with the "
                  f"answer, {hit['rounds']} interleaved rounds:", ""]
        lines += table(["cell", "first answer on iopub (median)", "vs print cell", "wall to idle"], rows) + [""]
    search = area.get("search", {})
    if "contenders" in search:
        rows = [[name, str(search["rows_shown"][name]), ms(c["s"]["median"]), x(c["s"]["ratio"])]
                for name, c in search["contenders"].items()]
        lines += [f"`%ollama log` in an IPython shell over {search['turns']:,} turns ({search['file_mib']} MiB file), "
                  f"newest 20 shown, {search['rounds']} interleaved rounds:", ""]
        lines += table(["query", "rows shown", "time (median)", "vs no search"], rows)
    for key in ("write", "cache_hit", "search"):
        if "error" in area.get(key, {}):
            lines += ["", f"{key}: error: `{area[key]['error'].splitlines()[0]}`"]
    return lines
