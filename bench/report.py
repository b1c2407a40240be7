"""Turn results.json into the Markdown table (results.md, and optionally a README section)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


# -- formatting -------------------------------------------------------------------------------------
def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _x(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.2f}x"


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _mib(kib: float | None) -> str:
    return "–" if kib is None else f"{kib / 1024:.1f} MiB"


def _met(met: bool | None) -> str:
    return "–" if met is None else "yes" if met else "**no**"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# -- machine ----------------------------------------------------------------------------------------
def machine_line(machine: dict[str, Any]) -> str:
    p = machine.get("packages", {})
    kernels = ", ".join(f"{k}: ipykernel {v}" for k, v in (machine.get("kernels") or {}).items() if v)
    load = machine.get("load_average_at_start")
    revision = machine.get("revision")
    return (
        (f"ollama_nb at {revision} on " if revision else "")
        + f"{machine.get('cpu')} ({machine.get('cores')} cores), {machine.get('ram_gib')} GiB RAM, "
        f"{machine.get('distro') or machine.get('os')} ({machine.get('os')}), Python {machine.get('python')}; "
        f"ollama_nb {p.get('ollama_nb')}, httpx {p.get('httpx')}, ollama {p.get('ollama')}, aiohttp {p.get('aiohttp')}, "
        f"requests {p.get('requests')}, ipywidgets {p.get('ipywidgets')}, JupyterLab {p.get('jupyterlab')}, "
        f"Playwright {p.get('playwright')}; kernels {kernels or '–'}"
        + (f"; load average at start {load}" if load else "")
        + "".join(f"; HTTP transports: {name} on {t}" if i == 0 else f", {name} on {t}"
                  for i, (name, t) in enumerate((machine.get("transports") or {}).items()))
    )


# -- targets summary -------------------------------------------------------------------------------
def targets(results: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(what, measured, target, met) for every target of the issue that was measured."""
    rows: list[tuple[str, str, str, bool | None]] = []
    areas = results.get("areas", {})
    streams = areas.get("streams", {})
    for tokens, size in (streams.get("sizes") or {}).items():
        checks = size["checks"]
        c = checks["ollama_nb_vs_raw_wall"]
        rows.append((f"{int(tokens):,}-token stream: ollama_nb / raw httpx, wall time", _x(c["value"]), "≤ 1.15x", c["met"]))
        c = checks["ollama_nb_vs_raw_cpu"]
        rows.append((f"{int(tokens):,}-token stream: ollama_nb / raw httpx, client CPU time", _x(c["value"]), "≤ 1.15x", c["met"]))
        for key, label in (("wall", "wall time"), ("cpu", "client CPU time")):
            c = checks.get(f"ollama_nb_faster_than_official_{key}")
            if c:
                rows.append((f"{int(tokens):,}-token stream: ollama_nb / official ollama, {label}", _x(c["value"]), "< 1x", c["met"]))
    kernel = areas.get("kernel", {})
    for name, k in (kernel.get("kernels") or {}).items():
        if "error" in k:
            rows.append((f"`%%ollama` in a kernel ({name})", "error", "", False))
            continue
        for key, label, target_text, fmt in (
            ("wall_vs_raw", "wall time / raw httpx", "≤ 2x", _x),
            ("iopub_vs_reply", "iopub bytes / reply size", "≤ 5x", _x),
            ("iopub_vs_reply_every_shape", "iopub bytes / reply size, worst Markdown shape", "≤ 5x", _x),
            ("one_output_every_shape", "outputs a long answer ends with, every shape", "2 (answer, footer)", lambda v: f"{v}"),
            ("ttft_added", "time to first token added over raw httpx", "≤ 20 ms", _ms),
        ):
            c = k["checks"].get(key)
            if c:
                rows.append((f"`%%ollama` ({name}): {label}", fmt(c["value"]), target_text, c["met"]))
    stop = areas.get("stop", {})
    for section, label, target_text in (("browser", "Stop click → server sees close", "median ≤ 0.3 s"),
                                         ("interrupt", "kernel interrupt → server sees close", "median ≤ 0.2 s")):
        for name, k in ((stop.get(section) or {}).get("kernels") or {}).items():
            if "error" in k:
                rows.append((f"{label} ({name})", "error", target_text, False))
                continue
            c = k["check"]
            rows.append((f"{label} ({name})", _ms(c["value"]) if c["value"] is not None else "lost", target_text, c["met"]))
            c = k["lost_check"]
            rows.append((f"{label} ({name}): stops lost (no close within 3 s)", f"{c['value']} of {len(k['ollama']['runs'])}", "0", c["met"]))
    if "record" in areas:
        from bench.record import record_targets

        rows += record_targets(areas["record"], {"ms": _ms, "x": _x})
    if "live" in areas:
        from bench.live import live_targets

        rows += live_targets(areas["live"], {"ms": _ms, "x": _x})
    memory = areas.get("memory", {})
    peak = memory.get("peak")
    if peak and "error" not in peak:
        c = peak["check"]
        rows.append((f"peak RSS, {peak['tokens']:,}-token reply: ollama_nb / raw httpx (stream's own)", _x(c["value"]), "≈ 1x (no target)", None))
    for name, k in ((memory.get("leaks") or {}).get("kernels") or {}).items():
        if "error" in k:
            rows.append((f"leaks after many `%%ollama` cells ({name})", "error", "no growth", False))
            continue
        c = k["check"]
        rows.append((f"growth cell {k['first']}→{k['last']} ({name}): threads, sockets, widgets, RSS vs raw", c["text"], "no growth beyond noise", c["met"]))
    if "transport" in areas:
        from bench.transport import transport_targets

        rows += transport_targets(areas["transport"], {"x": _x})
    for area, key, label, target_text, fmt in (
        ("batch", "throughput", "batch: items/s, Session.map / hand-written asyncio + httpx", "≥ 0.95x", _x),
        ("batch", "two_hosts", "batch: two simulator hosts / one (items/s)", "≥ 1.8x", _x),
        ("batch", "big_batch", "batch: 10,000 items in a kernel, iopub bytes of the cell", "≤ 300 KB", lambda v: _num(v / 1000, 0) + " KB"),
        ("batch", "stop", "batch: Stop → every open stream closed", "median ≤ 0.3 s", _ms),
        ("embed", "one_host", "embed: texts/s, Session.embed / hand loop over ollama-python embed (batch 64)", "≥ 1.0x", _x),
        ("embed", "two_hosts", "embed: texts/s, Session.embed on two hosts / hand loop on one", "≥ 1.8x", _x),
        ("embed", "cached", "embed: 100,000 texts all in the record, one Session.embed", "≤ 1 s", _ms),
    ):
        part = areas.get(area, {}).get(key)
        if part is None:
            continue
        if "error" in part:
            rows.append((label, "error", target_text, False))
            continue
        c = part["check"]
        rows.append((label, fmt(c["value"]) if c["value"] is not None else "lost", target_text, c["met"]))
    if "ray" in areas:
        from bench.ray_data import ray_targets

        rows += ray_targets(areas["ray"], {"x": _x})
    if "experiment" in areas:
        from bench.experiment import experiment_targets

        rows += experiment_targets(areas["experiment"], {"x": _x})
    return rows


# -- sections -------------------------------------------------------------------------------------
def _streams(area: dict[str, Any]) -> list[str]:
    lines = ["### Consuming one stream", "",
             "One `/api/generate` reply read to a single `str` at the simulator's full speed. "
             "Ratios are to raw httpx (`iter_lines` + `json.loads`), median of per-round ratios.", ""]
    rows = []
    for tokens, size in area["sizes"].items():
        for name, c in size["contenders"].items():
            rows.append([f"{int(tokens):,}", name, _s(c["wall_s"]["median"]), _x(c["wall_s"]["ratio"]),
                         _s(c["cpu_s"]["median"]), _x(c["cpu_s"]["ratio"]), str(c["runs"])])
    lines += _table(["tokens", "client", "wall (median)", "wall vs raw", "client CPU (median)", "CPU vs raw", "runs"], rows)
    return lines


def _first_token(area: dict[str, Any]) -> list[str]:
    lines = ["### Time to first token and total time, client by client", "",
             f"One {area['tokens']}-token reply at full speed, one pooled client each, "
             f"{area['rounds']} interleaved rounds; ratios to {area['baseline']}.", ""]
    rows = []
    for name, c in area["contenders"].items():
        rows.append([name, _ms(c["ttft_s"]["median"]), _x(c["ttft_s"]["ratio"]),
                     _ms(c["total_s"]["median"]), _x(c["total_s"]["ratio"])])
    lines += _table(["client", "first token", "vs httpx sync", "total", "vs httpx sync"], rows)
    return lines


def _kernel(area: dict[str, Any]) -> list[str]:
    first = next((k for k in area["kernels"].values() if "e2e" in k), None)
    lines = ["### `%%ollama` end to end in a real kernel (jupyter_client)", "",
             (f"Prompt `{first['e2e']['prompt']}` ({first['reply_bytes']:,}-byte reply, full speed), "
              f"{first['e2e']['rounds']} interleaved rounds. " if first else "")
             + "Raw httpx cell: `iter_lines` + `json.loads`, `print(token, end='')` (first token flushed). "
             "iopub bytes: sum of `len(json.dumps(msg['content']))` over the cell's messages; output messages: "
             "display_data + update_display_data + stream.", ""]
    rows = []
    for name, k in area["kernels"].items():
        if "error" in k:
            rows.append([name, "error: " + k["error"].splitlines()[0], "", "", "", "", "", ""])
            continue
        e = k["e2e"]
        for who in ("raw httpx", "%%ollama"):
            c = e["contenders"][who]
            rows.append([name, who, _s(c["wall_s"]["median"]), _x(c["wall_s"]["ratio"]),
                         _num(c["iopub_bytes"]["median"], 0), _x(c["iopub_per_reply_byte"]["median"]),
                         f'{_num(c["display_bytes"]["median"], 0)} / {_num(c["comm_bytes"]["median"], 0)}',
                         _num(c["updates_per_s"]["median"]), _num(c["output_msgs_per_s"]["median"]),
                         _num(c["iopub_msgs"]["median"], 0)])
    lines += _table(["kernel", "cell", "wall (median)", "vs raw", "iopub bytes", "iopub / reply bytes",
                     "of which display / widget comm bytes", "update_display_data/s", "output messages/s",
                     "iopub messages"], rows)
    lines.append("")
    rows = []
    for name, k in area["kernels"].items():
        if "error" in k:
            continue
        t = k["ttft"]
        c = t["contenders"]
        diag = next((key for key in c if "diagnostic" in key), None)
        rows.append([name, _ms(c["raw httpx"]["ttft_s"]["median"]), _ms(c["%%ollama"]["ttft_s"]["median"]),
                     _ms(t["added_s"]), _x(c["%%ollama"]["ttft_s"]["ratio"]),
                     _ms(c[diag]["ttft_s"]["median"]) if diag else "–", _ms(t.get("added_s_diagnostic"))])
    shaped = {name: k["shapes"] for name, k in area["kernels"].items() if "shapes" in k}
    if shaped:
        prompt = next(iter(shaped.values()))["prompt"]
        lines += [f"Display traffic per Markdown shape (prompt `{prompt}`; one run each): iopub bytes against the "
                  "reply's UTF-8 bytes, and the outputs the cell ends with (clear_output and updates applied).", ""]
        shape_rows = []
        for name, part in shaped.items():
            for shape, r in part["results"].items():
                shape_rows.append([name, shape, _num(r["reply_bytes"], 0), _num(r["iopub_bytes"], 0),
                                   _x(r["iopub_per_reply_byte"]), _num(r["display_msgs"], 0), str(r["outputs_left"])])
        lines += _table(["kernel", "shape", "reply bytes", "iopub bytes", "iopub / reply bytes", "display messages",
                         "outputs left"], shape_rows)
        lines.append("")
    if rows:
        lines += [f"Time to first token as a front end sees it (execute request sent → first iopub message with reply text; "
                  f"prompt `{next(iter(k['ttft']['prompt'] for k in area['kernels'].values() if 'ttft' in k))}`):", ""]
        lines += _table(["kernel", "raw httpx", "%%ollama", "added by the magic (median of pairs)", "ratio",
                         "diagnostic: update_interval 0.01", "added (diagnostic)"], rows)
    return lines


def _lost(stats: dict[str, Any]) -> str:
    return f" ({stats['lost']} of {len(stats['runs'])} lost)" if stats.get("lost") else ""


def _stop(area: dict[str, Any]) -> list[str]:
    lines = ["### Stop and interrupt → the server sees the connection close", ""]
    rows = []
    for section, label in (("browser", "Stop button (JupyterLab, Chromium)"), ("interrupt", "kernel interrupt (jupyter_client)")):
        part = area.get(section) or {}
        if "error" in part:
            rows.append([label, "", "error: " + part["error"].splitlines()[0], "", "", "", ""])
            continue
        for name, k in (part.get("kernels") or {}).items():
            if "error" in k:
                rows.append([label, name, "error: " + k["error"].splitlines()[0], "", "", "", ""])
                continue
            o, b = k["ollama"], k["baseline"]
            call = k.get("ollama_from_click_call")
            rows.append([label, name, (_ms(o["median"]) if o["median"] is not None else "lost") + _lost(o),
                         f"{_ms(o['min'])}–{_ms(o['max'])}", _ms(b["median"]) + _lost(b), _x(k["ratio"]),
                         _ms(call["median"]) if call else "–"])
    lines += _table(["what", "kernel", "%%ollama (median)", "range", "floor (baseline)", "vs floor",
                     "from Playwright click() call"], rows)
    lines += ["", "Floors: Stop — an ipywidgets button in an idle kernel whose handler shuts the socket of a raw httpx "
              "stream read by a thread; interrupt — a raw httpx loop in the cell (KeyboardInterrupt leaves its `with`). "
              "Stop is timed from the click event in the page; a stop with no close within 3 s is lost."]
    return lines


def _memory(area: dict[str, Any]) -> list[str]:
    lines = ["### Memory and leaks", ""]
    peak = area.get("peak")
    if peak and "error" not in peak:
        lines += [f"Peak RSS of a fresh process reading one {peak['tokens']:,}-token reply to a `str` "
                  "(stream's own = peak − RSS after imports):", ""]
        rows = []
        for name, c in peak["contenders"].items():
            rows.append([name, _mib(c["peak_kib"]["median"]), _mib(c["stream_kib"]["median"]), _x(c["stream_kib"]["ratio"]), _x(c["peak_kib"]["ratio"])])
        lines += _table(["client", "peak RSS", "stream's own", "own vs raw", "peak vs raw"], rows)
        lines.append("")
    elif peak:
        lines += [f"peak RSS: error: {peak['error'].splitlines()[0]}", ""]
    leaks = area.get("leaks")
    if leaks and "error" not in leaks:
        rows = []
        for name, k in leaks["kernels"].items():
            if "error" in k:
                rows.append([name, "error: " + k["error"].splitlines()[0]] + [""] * 7)
                continue
            for who in ("raw httpx", "%%ollama"):
                s = k["contenders"][who]
                rows.append([name, who, f"{s['first']['threads']}→{s['last']['threads']}",
                             f"{s['first']['os_threads']}→{s['last']['os_threads']}",
                             f"{s['first']['sockets']}→{s['last']['sockets']}",
                             f"{s['first'].get('widgets')}→{s['last'].get('widgets')}",
                             f"{s['first'].get('turns')}→{s['last'].get('turns')}",
                             f"{_mib(s['first']['rss_kib'])}→{_mib(s['last']['rss_kib'])}",
                             f"{s['growth']['rss_kib']:+,.0f} KiB"])
        lines += [f"A kernel running {leaks['cells']} consecutive small cells (measured at cell {leaks['first']} and {leaks['last']}, after `gc.collect()`):", ""]
        lines += _table(["kernel", "cells", "threads (Python)", "threads (OS)", "socket fds", "live widgets",
                         "session turns", "RSS", "RSS growth"], rows)
    elif leaks:
        lines += [f"leaks: error: {leaks['error'].splitlines()[0]}"]
    return lines


def _record(area: dict[str, Any]) -> list[str]:
    from bench.record import render_record

    return render_record(area, {"ms": _ms, "x": _x, "table": _table})


def _live(area: dict[str, Any]) -> list[str]:
    from bench.live import render_live

    return render_live(area, {"ms": _ms, "x": _x, "table": _table, "num": _num})


def _batch(area: dict[str, Any]) -> list[str]:
    lines = ["### One prompt over many items (`Session.map`, `%%ollama --over`)", ""]
    rows = []
    for key, what in (("throughput", "throughput"), ("two_hosts", "hosts"), ("stop", "stop")):
        part = area.get(key) or {}
        if "error" in part:
            rows.append([what, "error: " + part["error"].splitlines()[0], "", "", ""])
            continue
        for name, c in (part.get("contenders") or {}).items():
            stat = next(k for k in ("items_per_s", "all_closed_s") if k in c)
            value = c[stat]["median"]
            rows.append([what, name, _num(value) + " items/s" if stat == "items_per_s" else _ms(value),
                         _x(c[stat]["ratio"]), str(c["runs"])])
    lines += _table(["part", "contender", "median", "ratio to the first", "runs"], rows)
    big = area.get("big_batch") or {}
    if big and "error" not in big:
        lines += ["", f"10,000 items through `%%ollama --over` in ipykernel 7 (record on): {big['wall_s']:.1f} s, "
                  f"{big['answered']:,} answered, iopub {_num(big['iopub_bytes'] / 1000, 0)} KB in {big['iopub_msgs']} messages, "
                  f"kernel RSS growth {_mib(big['rss_growth_kib'])} (a hand-written asyncio + httpx loop keeping the same "
                  f"answers: {_mib(big['raw_loop_rss_growth_kib'])}, {big['raw_loop_wall_s']:.1f} s)."]
    elif big:
        lines += ["", "10,000 items: error: `" + big["error"].splitlines()[0] + "`"]
    return lines


def _ray(area: dict[str, Any]) -> list[str]:
    from bench.ray_data import render_ray

    return render_ray(area, {"x": _x})


def _transport(area: dict[str, Any]) -> list[str]:
    from bench.transport import transport_section

    return transport_section(area)


def render_markdown(results: dict[str, Any], *, title: bool = True) -> str:
    """The whole report; ``title=False`` leaves out the top heading (for a README section)."""
    areas = results.get("areas", {})
    lines = ["# ollama_nb benchmarks", ""] if title else []
    lines += [
        f"**{results.get('mode', '').capitalize()} run of {results.get('started_at')} ({results.get('seconds')} s)** on: "
        f"{machine_line(results.get('machine', {}))}.",
        "",
        "Against the bundled simulator in its own process. Every ratio is to a baseline measured in the same run: "
        "contenders run interleaved (A, B, C, A, B, C, …) and a ratio is the median of the per-round ratios.",
        "",
        "### Targets",
        "",
    ]
    rows = [[what, measured, target, _met(met)] for what, measured, target, met in targets(results)]
    lines += _table(["what", "measured", "target", "met"], rows)
    for name, render in (("streams", _streams), ("first_token", _first_token), ("kernel", _kernel),
                         ("stop", _stop), ("memory", _memory), ("record", _record), ("batch", _batch),
                         ("live", _live), ("transport", _transport), ("ray", _ray)):
        area = areas.get(name)
        if area is None:
            continue
        lines.append("")
        if "error" in area and len(area) <= 3:
            lines += [f"### {name}", "", f"error: `{area['error'].splitlines()[0]}`"]
            continue
        lines += render(area)
    lines.append("")
    lines.append("Reproduce: `.venv/bin/python bench/run.py` (full) or `--quick`; raw numbers in `bench/results/results.json`.")
    return "\n".join(lines) + "\n"


def update_readme(path: Path, markdown: str) -> None:
    """Replace the text between the bench markers in ``path`` (append a marked section if absent)."""
    text = path.read_text() if path.exists() else ""
    block = f"{START}\n{markdown}{END}"
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    path.write_text(text)
