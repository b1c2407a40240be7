"""How live a ``%%ollama`` cell feels: the shown text against the model's tokens, before and after.

A reply of numbered words (``tests/pace.py``: sentences of 12, a paragraph every 80) is paced by
the simulator at 20 and 100 tokens/s, and sent at full speed. Per rate and kernel (onb-k6, onb-k7),
from the cell's iopub messages stamped on arrival here:

- updates per second (display messages carrying answer text while it streams),
- p95 and max lag: token ``k`` is sent no earlier than the request time + ``k`` x the delay, and
  shown by the first display message holding a word numbered ``k`` or more (an upper bound),
- max pause between display messages while the reply streams,
- iopub bytes / reply bytes (``len(json.dumps(content))`` of the cell's messages but the
  ``execute_input`` echo of its source), and the issue's allowance: 5x the reply + 1 KB/s.

In JupyterLab + Chromium (onb-k7, 100 tokens/s) the same from a MutationObserver in the page, and the
browser's main-thread time (CDP ``Performance.getMetrics`` TaskDuration) over the streaming cell
against a cell that renders the finished answer once (``display(Markdown(text))``).

"Before" is the rule of the first round (a forced refresh every 0.35 s, the reading loop waking
every 0.05 s on ipykernel 7, the live status line with tokens/s, IPython's 32-digit display ids),
set in the kernel by the view's and the loop's parameters; "after" is the defaults now (0.3 s,
0.02 s, no tokens/s while live, 12-digit ids). Variants run interleaved. The Stop click → server
close figure is the ``stop`` area (``bench/run.py --only stop``).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any

from ._common import MODEL, REPO, SimProcess, Sample, interleave, log, median
from ._kernel import Cell, Kernel, magic_cell, setup_code

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.pace import (  # noqa: E402
    BYTES_PER_SECOND, TIMES_REPLY, WATCH_OUTPUTS, Pace, highest_word, paced_prompt, paced_words,
)

RATES: tuple[int | None, ...] = (20, 100, None)  # None: full speed
FULL_SPEED_WORDS = 4000
TARGET_S = 0.5

#: Saves the defaults once (the view's and the reading loop's parameters, the display id size, the
#: live status line), then switches between the rule before and after.
VARIANT_SETUP = (
    "from ollama_nb.view import StreamView as _OnbView\n"
    "from ollama_nb.view import _consume as _onb_loop, _stream_view as _onb_sv\n"
    "from ollama_nb.view._reply_lines import status_line as _onb_status_line\n"
    "import ipykernel as _onb_ipykernel\n"
    "_onb_after = (dict(_OnbView.__init__.__kwdefaults__), dict(_onb_loop.stream_many_async.__kwdefaults__),\n"
    "              _onb_sv._DISPLAY_ID_BYTES, _OnbView._status)\n"
    "def _onb_status_before(self):\n"
    "    return _onb_status_line(self.model, self.reply)\n"
)
VARIANTS = {
    "before": (
        "_OnbView.__init__.__kwdefaults__.update(max_pause=0.35)\n"
        "_onb_k7 = int(_onb_ipykernel.__version__.split('.')[0]) >= 7\n"
        "_onb_loop.stream_many_async.__kwdefaults__.update(tick=0.05 if _onb_k7 else 0.02)\n"
        "_onb_sv._DISPLAY_ID_BYTES = 16\n"
        "_OnbView._status = _onb_status_before\n"
    ),
    "after": (
        "_OnbView.__init__.__kwdefaults__.update(_onb_after[0])\n"
        "_onb_loop.stream_many_async.__kwdefaults__.update(_onb_after[1])\n"
        "_onb_sv._DISPLAY_ID_BYTES = _onb_after[2]\n"
        "_OnbView._status = _onb_after[3]\n"
    ),
}


def _words(rate: int | None, seconds: float) -> int:
    return FULL_SPEED_WORDS if rate is None else int(rate * seconds)


def _prompt(rate: int | None, count: int) -> str:
    if rate is None:
        return f"Count [[script={json.dumps(paced_words(count))}]]"
    return paced_prompt(count, rate)


def _traffic(cell: Cell) -> int:
    return sum(m.size for m in cell.messages if m.msg_type != "execute_input")


def _shown(cell: Cell) -> list[tuple[float, int]]:
    shown = []
    for m in cell.messages:
        if m.msg_type in ("display_data", "update_display_data"):
            highest = highest_word(str(m.content.get("data", {}).get("text/markdown", "")))
            if highest >= 0:
                shown.append((m.received, highest))
    return shown


def _sample(pace: Pace, rate: int | None, traffic: int, count: int) -> Sample:
    size = len("".join(paced_words(count)).encode())
    streaming = pace.token_times[-1] - pace.token_times[0]
    allowance = TIMES_REPLY * size + BYTES_PER_SECOND * streaming
    sample: Sample = {"iopub_per_reply": traffic / size, "allowance_used": traffic / allowance}
    if rate is None:  # no token times: updates and pauses over the cell's own streaming window
        times = [t for t, _ in pace.shown]
        window = max(times[-1] - times[0], 1e-9) if times else 1e-9
        sample["updates_per_s"] = len(times) / window
        sample["max_pause_s"] = max((b - a for a, b in zip(times, times[1:])), default=0.0)
        return sample
    sample.update(pace.figures())
    return sample


def _kernel_sample(kernel: Kernel, sim: SimProcess, variant: str, rate: int | None, seconds: float) -> Sample:
    kernel.run(VARIANTS[variant])
    count = _words(rate, seconds)
    mark = sim.mark()
    cell = kernel.run(magic_cell(_prompt(rate, count)), timeout=seconds + 120)
    started = sim.wait_for("request", since=mark).time
    pace = Pace(token_times=[started + k / rate for k in range(count)] if rate else [started, cell.idle],
                shown=_shown(cell))
    return _sample(pace, rate, _traffic(cell), count)


def bench_kernels(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    rounds, seconds = (1, 15.0) if quick else (3, 15.0)
    out: dict[str, Any] = {"seconds_per_stream": seconds, "kernels": {}}
    for name in ("onb-k6", "onb-k7"):
        try:
            with Kernel(name) as kernel:
                kernel.run(setup_code(sim.url, MODEL) + VARIANT_SETUP)
                kernel.run(magic_cell("Warm up. [[tokens=50]]"))
                per_rate: dict[str, Any] = {}
                for rate in RATES:
                    label = "full" if rate is None else f"{rate}/s"
                    log(f"live: {name}, {label}, before/after, {rounds} interleaved rounds")
                    contenders = [(v, lambda v=v: _kernel_sample(kernel, sim, v, rate, seconds)) for v in VARIANTS]
                    samples = interleave(contenders, rounds, warmup=0)  # type: ignore[arg-type]
                    per_rate[label] = {v: _medians(rows) for v, rows in samples.items()}
                out["kernels"][name] = per_rate
        except Exception as exc:
            log(f"live: {name} FAILED: {exc!r}")
            out["kernels"][name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return out


def _medians(rows: list[Sample]) -> dict[str, float | None]:
    keys = sorted({k for r in rows for k in r})
    return {k: median(r.get(k) for r in rows) for k in keys}


# -- JupyterLab + Chromium --------------------------------------------------------------------------
ONCE_CELL = ("from IPython.display import Markdown as _Md, display as _d\nimport ollama_nb as _o\n"
             "_d(_Md(_o.get_session().last.text))")
SETTLE_S = 0.5  # after the cell's prompt shows done: the last render lands inside the window


def _harness() -> Any:
    from tests.browser import jupyter

    return jupyter


def _main_thread_s(cdp: Any) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))


def _timed_cell(nb: Any, cdp: Any, index: int, timeout: float) -> float:
    """Browser main-thread seconds from running cell ``index`` until it is done (and rendered)."""
    before = _main_thread_s(cdp)
    nb.run_cell(index, wait=True, timeout=timeout)
    time.sleep(SETTLE_S)
    return _main_thread_s(cdp) - before


def bench_browser(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    jupyter = _harness()
    if jupyter.chromium_path() is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    rate, seconds, rounds = 100, 15.0, (1 if quick else 3)
    count = _words(rate, seconds)
    cells = [setup_code(sim.url, MODEL) + VARIANT_SETUP, VARIANTS["before"], VARIANTS["after"],
             magic_cell(_prompt(rate, count)), ONCE_CELL]
    out: dict[str, Any] = {"ui": "JupyterLab", "kernel": "onb-k7", "rate": rate, "seconds_per_stream": seconds}
    log("live: starting JupyterLab and Chromium")
    with jupyter.jupyter_server() as server, jupyter.chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            server.write_notebook("live.ipynb", cells, kernel="onb-k7")
            nb = jupyter.open_notebook(page, server, "live.ipynb", ui="lab")
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            nb.run_cell(0, timeout=120)

            def run(variant: str) -> Sample:
                nb.run_cell(1 if variant == "before" else 2, timeout=60)
                page.evaluate(WATCH_OUTPUTS, 3)
                mark = sim.mark()
                streaming = _timed_cell(nb, cdp, 3, seconds + 120)
                started = sim.wait_for("request", since=mark).time
                offset = time.time() - time.monotonic()
                shown = [(float(at) - offset, int(top)) for at, top in page.evaluate("() => window.__onbShown")]
                pace = Pace(token_times=[started + k / rate for k in range(count)], shown=shown)
                once = _timed_cell(nb, cdp, 4, 60)
                sample: Sample = dict(pace.figures())
                sample.update(main_thread_s=streaming, once_s=once)
                if once:
                    sample["vs_once"] = streaming / once
                return sample

            log(f"live: JupyterLab onb-k7, {rate} tokens/s, before/after, {rounds} interleaved rounds")
            samples = interleave([(v, lambda v=v: run(v)) for v in VARIANTS], rounds, warmup=0)  # type: ignore[misc]
            out["variants"] = {v: _medians(rows) for v, rows in samples.items()}
        finally:
            context.close()
            server.shutdown_kernels()
    return out


def bench_live(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, run in (("kernel", bench_kernels), ("browser", bench_browser)):
        try:
            out[section] = run(sim, quick=quick)
        except Exception as exc:
            log(f"live: {section} FAILED: {exc!r}")
            out[section] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return out


# -- report -------------------------------------------------------------------------------------------
def live_targets(area: dict[str, Any], fmt: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """Rows of the targets table: p95 lag and max pause at 20 and 100 tokens/s, traffic allowance."""
    ms = fmt["ms"]
    rows: list[tuple[str, str, str, bool | None]] = []
    for name, per_rate in ((area.get("kernel") or {}).get("kernels") or {}).items():
        if "error" in per_rate:
            rows.append((f"live cell ({name})", "error", "", False))
            continue
        for label in ("20/s", "100/s"):
            after = (per_rate.get(label) or {}).get("after") or {}
            for key, what in (("p95_lag_s", "p95 lag"), ("max_pause_s", "max pause")):
                value = after.get(key)
                rows.append((f"live cell ({name}, {label}): {what}", ms(value), f"≤ {TARGET_S} s",
                             None if value is None else value <= TARGET_S))
            used = after.get("allowance_used")
            rows.append((f"live cell ({name}, {label}): traffic / (5x reply + 1 KB/s)", fmt["x"](used), "≤ 1x",
                         None if used is None else used <= 1))
    browser = (area.get("browser") or {}).get("variants", {}).get("after") or {}
    for key, what in (("p95_lag_s", "p95 lag"), ("max_pause_s", "max pause")):
        value = browser.get(key)
        if value is not None:
            rows.append((f"live cell in JupyterLab (onb-k7, 100/s): {what}", ms(value), f"≤ {TARGET_S} s",
                         value <= TARGET_S))
    return rows


def render_live(area: dict[str, Any], fmt: dict[str, Any]) -> list[str]:
    """The report's section for this area."""
    ms, x, table, num = fmt["ms"], fmt["x"], fmt["table"], fmt["num"]
    lines = ["### A live cell (shown text vs the model's tokens)", ""]
    rows = []
    for name, per_rate in ((area.get("kernel") or {}).get("kernels") or {}).items():
        if "error" in per_rate:
            rows.append([name, "error: " + per_rate["error"].splitlines()[0], "", "", "", "", ""])
            continue
        for label, variants in per_rate.items():
            for variant, m in variants.items():
                rows.append([name, label, variant, num(m.get("updates_per_s")), ms(m.get("p95_lag_s")),
                             ms(m.get("max_pause_s")), x(m.get("iopub_per_reply"))])
    lines += table(["kernel", "tokens/s", "rule", "updates/s", "p95 lag", "max pause", "iopub / reply"], rows)
    browser = area.get("browser") or {}
    if "variants" in browser:
        lines += ["", f"JupyterLab + Chromium, onb-k7, {browser['rate']} tokens/s "
                  f"for {browser['seconds_per_stream']:g} s "
                  "(MutationObserver in the page; main-thread time over the cell vs rendering the answer once):", ""]
        rows = [[v, num(m.get("updates_per_s")), ms(m.get("p95_lag_s")), ms(m.get("max_pause_s")),
                 num(m.get("main_thread_s")) + " s", x(m.get("vs_once"))] for v, m in browser["variants"].items()]
        lines += table(["rule", "changes/s", "p95 lag", "max pause", "main thread", "vs once"], rows)
    elif "error" in browser:
        lines += ["", "browser: error: `" + browser["error"].splitlines()[0] + "`"]
    return lines
