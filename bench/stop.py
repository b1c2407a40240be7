"""Stop → the server sees the connection close: the Stop button in a real browser, and a kernel
interrupt, on both kernel lines.

The close time is the simulator's own ``disconnect`` event (its process's ``time.monotonic()``,
the same clock as here on Linux). The start is:

- Stop button: the click event as the page received it (``performance.timeOrigin +
  event.timeStamp``, captured by a listener this benchmark adds, converted to this machine's
  monotonic clock); the time Playwright's ``click()`` was called is kept too (``call_s``), it
  adds Playwright's actionability checks;
- interrupt: the ``interrupt_kernel()`` call (jupyter_client, SIGINT to the kernel).

A stop after which the server sees no close within ``LOST_AFTER`` seconds is counted as lost and
sorts above every measured time in the median.

Each is run interleaved with a floor measured the same way:

- Stop floor: an ipywidgets button in an idle kernel (the cell has returned) whose handler shuts
  the socket of a raw httpx stream read by a background thread: browser → kernel → socket.
- Interrupt floor: a raw httpx loop in the cell; ``KeyboardInterrupt`` leaves its ``with``.

Targets: median ≤ 0.3 s (button) and ≤ 0.2 s (interrupt), and no stop lost.
"""

from __future__ import annotations

import math
import statistics
import time
import traceback
from typing import Any

from ._common import MODEL, SimProcess, Sample, interleave, log, median
from ._kernel import Kernel, magic_cell, raw_cell, setup_code

LONG_PROMPT = "Count slowly. [[tokens=3000]] [[delay=0.01]]"  # 30 s if nobody stops it
INTERRUPT_PROMPT = "Count slowly. [[tokens=500]] [[delay=0.01]]"  # 5 s: a lost interrupt costs little
LOST_AFTER = 3.0
SETTLE = 0.3  # seconds of streaming before the stop, so the stream is in its steady state
TARGET_BUTTON = 0.3
TARGET_INTERRUPT = 0.2


def _median_with_lost(values: list[float | None]) -> float | None:
    """Median where None (lost) counts as +infinity; None when that median is a lost run."""
    if not values:
        return None
    value = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(value) else value


def _stats(rows: list[Sample], key: str = "close_s") -> dict[str, Any]:
    values = [r.get(key) for r in rows]
    kept = [v for v in values if v is not None]
    return {
        "median": _median_with_lost(values),
        "min": min(kept) if kept else None,
        "max": max(kept) if kept else None,
        "lost": sum(v is None for v in values),
        "runs": values,
    }


def _summary(samples: dict[str, list[Sample]], baseline: str, ours: str, target: float) -> dict[str, Any]:
    mine, floor = _stats(samples[ours]), _stats(samples[baseline])
    ratios = [a["close_s"] / b["close_s"] for a, b in zip(samples[ours], samples[baseline])
              if a.get("close_s") is not None and b.get("close_s")]
    value = mine["median"]
    out = {
        "ollama": mine,
        "baseline": floor,
        "ratio": median(ratios),
        "cell_done_s": median(s.get("done_s") for s in samples[ours]),
        "check": {"value": value, "target": f"<= {target}", "met": value is not None and value <= target},
        "lost_check": {"value": mine["lost"], "target": "0", "met": mine["lost"] == 0},
    }
    if any("call_s" in s for s in samples[ours]):
        out["ollama_from_click_call"] = _stats(samples[ours], "call_s")
        out["baseline_from_click_call"] = _stats(samples[baseline], "call_s")
    return out


def _close_after(sim: SimProcess, mark: int, start: float) -> float | None:
    try:
        return sim.wait_for("disconnect", since=mark, timeout=LOST_AFTER).time - start
    except TimeoutError:
        return None


# -- kernel interrupt (jupyter_client) ---------------------------------------------------------------
def _interrupt_sample(kernel: Kernel, sim: SimProcess, code: str) -> Sample:
    mark = sim.mark()
    msg_id, sent = kernel.send(code)
    sim.wait_for("request", since=mark, timeout=30)
    time.sleep(SETTLE)
    interrupted = time.monotonic()
    kernel.km.interrupt_kernel()
    close = _close_after(sim, mark, interrupted)
    cell = kernel.collect(msg_id, sent, code, timeout=60)
    _ready(kernel)
    sample: Sample = {"done_s": cell.idle - interrupted}
    sample["close_s"] = close  # type: ignore[assignment]
    return sample


def _ready(kernel: Kernel) -> None:
    """After an interrupt, make sure the next cell runs (a kernel may abort queued requests)."""
    for _ in range(5):
        if kernel.run("pass", check=False).ok:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{kernel.name}: cells are still aborted after an interrupt")


def bench_interrupt(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"kernels": {}}
    rounds = 3 if quick else 8
    for name in ("onb-k6", "onb-k7"):
        try:
            with Kernel(name) as kernel:
                kernel.run(setup_code(sim.url, MODEL))
                kernel.run(magic_cell("Warm up. [[tokens=50]]"))
                log(f"stop: kernel interrupt on {name}, {rounds} interleaved rounds")
                samples = interleave(
                    [("raw httpx loop", lambda: _interrupt_sample(kernel, sim, raw_cell(INTERRUPT_PROMPT))),
                     ("%%ollama", lambda: _interrupt_sample(kernel, sim, magic_cell(INTERRUPT_PROMPT)))],
                    rounds, warmup=0 if quick else 1,
                )
            out["kernels"][name] = _summary(samples, "raw httpx loop", "%%ollama", TARGET_INTERRUPT)
        except Exception as exc:
            log(f"stop: interrupt on {name} FAILED: {exc!r}")
            out["kernels"][name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return out


# -- the Stop button in JupyterLab + Chromium ---------------------------------------------------------
FLOOR_CELL = """\
import threading as _threading, ipywidgets as _w
from IPython.display import display as _display
_box = {}
def _read():
    with _h.stream('POST', '/api/generate', json={'model': _MODEL, 'prompt': %r}) as r:
        _box['r'] = r
        for _ in r.iter_lines():
            if _box.get('stop'):
                break
def _halt(button):
    _box['stop'] = True
    r = _box.get('r')
    if r is not None:
        r.extensions['network_stream'].get_extra_info('socket').shutdown(2)
_b = _w.Button(description='Halt')
_b.on_click(_halt)
_display(_b)
_threading.Thread(target=_read, daemon=True).start()
""" % LONG_PROMPT

# Records when the page received each click on a widget button (epoch seconds, sub-ms).
CLICK_LISTENER = """() => {
  if (window.__onbClicks) return;
  window.__onbClicks = [];
  document.addEventListener('click', (event) => {
    if (event.target.closest && event.target.closest('button.widget-button')) {
      window.__onbClicks.push((performance.timeOrigin + event.timeStamp) / 1000);
    }
  }, true);
}"""


def _harness() -> Any:
    import sys

    from ._common import REPO

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.browser import jupyter

    return jupyter


def _page_click_monotonic(page: Any, count_before: int, timeout: float = 5.0) -> float | None:
    """The monotonic time of the page's newest click event (None if none was seen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        clicks = page.evaluate("() => window.__onbClicks || []")
        if len(clicks) > count_before:
            offset = time.time() - time.monotonic()
            return float(clicks[-1]) - offset
        time.sleep(0.01)
    return None


def _click(nb: Any, text: str, cell: int) -> tuple[float, float | None]:
    """Click a widget button; (time click() was called, time the page got the click)."""
    before = len(nb.page.evaluate("() => window.__onbClicks || []"))
    called = nb.click_button(text, cell=cell)
    return called, _page_click_monotonic(nb.page, before)


def bench_browser(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    jupyter = _harness()
    if jupyter.chromium_path() is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    rounds = 3 if quick else 6
    kernels = ("onb-k7",) if quick else ("onb-k6", "onb-k7")
    out: dict[str, Any] = {"ui": "JupyterLab", "kernels": {}}
    log("stop: starting JupyterLab and Chromium")
    with jupyter.jupyter_server() as server, jupyter.chromium() as browser:
        for name in kernels:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            try:
                page = context.new_page()
                cells = [setup_code(sim.url, MODEL), magic_cell("Warm up. [[tokens=50]]"),
                         magic_cell(LONG_PROMPT), FLOOR_CELL]
                notebook = f"stop-{name}.ipynb"
                server.write_notebook(notebook, cells, kernel=name)
                nb = jupyter.open_notebook(page, server, notebook, ui="lab")
                page.evaluate(CLICK_LISTENER)
                nb.run_cell(0, timeout=120)
                nb.run_cell(1, timeout=120)
                log(f"stop: Stop button on {name}, {rounds} interleaved rounds")

                def ours() -> Sample:
                    mark = sim.mark()
                    nb.run_cell(2, wait=False)
                    sim.wait_for("request", since=mark, timeout=30)
                    nb.wait_for_output_text(2, "simulated", timeout=30)
                    nb.button("Stop", cell=2).wait_for(state="visible", timeout=30_000)
                    time.sleep(SETTLE)
                    called, clicked = _click(nb, "Stop", 2)
                    close = _close_after(sim, mark, 0.0)
                    nb.wait_for_cell_done(2, timeout=60)
                    start = clicked if clicked is not None else called
                    sample: Sample = {"done_s": time.monotonic() - start}
                    sample["close_s"] = None if close is None else close - start  # type: ignore[assignment]
                    sample["call_s"] = None if close is None else close - called  # type: ignore[assignment]
                    return sample

                def floor() -> Sample:
                    mark = sim.mark()
                    nb.run_cell(3, wait=True, timeout=60)
                    sim.wait_for("request", since=mark, timeout=30)
                    time.sleep(SETTLE)
                    called, clicked = _click(nb, "Halt", 3)
                    close = _close_after(sim, mark, 0.0)
                    start = clicked if clicked is not None else called
                    sample: Sample = {}
                    sample["close_s"] = None if close is None else close - start  # type: ignore[assignment]
                    sample["call_s"] = None if close is None else close - called  # type: ignore[assignment]
                    return sample

                samples = interleave([("floor", floor), ("%%ollama", ours)], rounds, warmup=1)
                out["kernels"][name] = _summary(samples, "floor", "%%ollama", TARGET_BUTTON)
            except Exception as exc:
                log(f"stop: Stop button on {name} FAILED: {exc!r}")
                out["kernels"][name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            finally:
                context.close()
                try:
                    server.shutdown_kernels()
                except Exception:
                    pass
    return out


def bench_stop(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, run in (("interrupt", bench_interrupt), ("browser", bench_browser)):
        try:
            out[section] = run(sim, quick=quick)
        except Exception as exc:
            log(f"stop: {section} FAILED: {exc!r}")
            out[section] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return out
