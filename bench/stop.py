"""Stop → the server sees the connection close: the Stop button in a real browser, and a kernel
interrupt, on both kernel lines.

The close time is the simulator's own ``disconnect`` event (its process's ``time.monotonic()``,
the same clock as here on Linux); the start is the click (Playwright, taken just before
``click()``, as tests/browser/jupyter.py does) or the ``interrupt_kernel()`` call.

Each is run interleaved with a floor measured the same way:

- Stop floor: an ipywidgets button in an idle kernel (the cell has returned) whose handler shuts
  the socket of a raw httpx stream read by a background thread: browser → kernel → socket.
- Interrupt floor: a raw httpx loop in the cell; ``KeyboardInterrupt`` leaves its ``with``.

Targets: median ≤ 0.3 s (button) and ≤ 0.2 s (interrupt).
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from ._common import MODEL, SimProcess, Sample, interleave, log, median, paired_ratio
from ._kernel import Kernel, magic_cell, raw_cell, setup_code

KERNELS = ("onb-k6", "onb-k7")
LONG_PROMPT = "Count slowly. [[tokens=3000]] [[delay=0.01]]"  # 30 s if nobody stops it
SETTLE = 0.3  # seconds of streaming before the stop, so the stream is in its steady state
TARGET_BUTTON = 0.3
TARGET_INTERRUPT = 0.2


def _summary(samples: dict[str, list[Sample]], baseline: str, ours: str, target: float) -> dict[str, Any]:
    values = [s["close_s"] for s in samples[ours]]
    floors = [s["close_s"] for s in samples[baseline]]
    value = median(values)
    return {
        "ollama": {"median": value, "min": min(values), "max": max(values), "runs": values,
                   "cell_done_median": median(s.get("done_s") for s in samples[ours])},
        "baseline": {"median": median(floors), "min": min(floors), "max": max(floors), "runs": floors},
        "ratio": paired_ratio(samples, ours, baseline, "close_s"),
        "lines_after": median(s.get("lines_after") for s in samples[ours]),
        "check": {"value": value, "target": f"<= {target}", "met": value is not None and value <= target},
    }


# -- kernel interrupt (jupyter_client) ---------------------------------------------------------------
def _interrupt_sample(kernel: Kernel, sim: SimProcess, code: str) -> Sample:
    mark = sim.mark()
    msg_id, sent = kernel.send(code)
    sim.wait_for("request", since=mark, timeout=30)
    time.sleep(SETTLE)
    interrupted = time.monotonic()
    kernel.km.interrupt_kernel()
    event = sim.wait_for("disconnect", since=mark, timeout=15)
    cell = kernel.collect(msg_id, sent, code, timeout=60)
    _ready(kernel)
    return {"close_s": event.time - interrupted, "done_s": cell.idle - interrupted}


def _ready(kernel: Kernel) -> None:
    """After an interrupt, make sure the next cell runs (a kernel may abort queued requests)."""
    for _ in range(5):
        if kernel.run("pass", check=False).ok:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{kernel.name}: cells are still aborted after an interrupt")


def bench_interrupt(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"kernels": {}}
    rounds = 3 if quick else 7
    for name in KERNELS:
        try:
            with Kernel(name) as kernel:
                kernel.run(setup_code(sim.url, MODEL))
                kernel.run(magic_cell("Warm up. [[tokens=50]]"))
                log(f"stop: kernel interrupt on {name}, {rounds} interleaved rounds")
                samples = interleave(
                    [("raw httpx loop", lambda: _interrupt_sample(kernel, sim, raw_cell(LONG_PROMPT))),
                     ("%%ollama", lambda: _interrupt_sample(kernel, sim, magic_cell(LONG_PROMPT)))],
                    rounds, warmup=1,
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


def _harness() -> Any:
    import sys

    from ._common import REPO

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.browser import jupyter

    return jupyter


def bench_browser(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    jupyter = _harness()
    if jupyter.chromium_path() is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    rounds = 3 if quick else 6
    out: dict[str, Any] = {"ui": "lab", "kernels": {}}
    log("stop: starting JupyterLab and Chromium")
    with jupyter.jupyter_server() as server, jupyter.chromium() as browser:
        for name in KERNELS:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            try:
                page = context.new_page()
                cells = [setup_code(sim.url, MODEL), magic_cell("Warm up. [[tokens=50]]"),
                         magic_cell(LONG_PROMPT), FLOOR_CELL]
                notebook = f"stop-{name}.ipynb"
                server.write_notebook(notebook, cells, kernel=name)
                nb = jupyter.open_notebook(page, server, notebook, ui="lab")
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
                    clicked = nb.click_button("Stop", cell=2)
                    event = sim.wait_for("disconnect", since=mark, timeout=15)
                    nb.wait_for_cell_done(2, timeout=60)
                    done = time.monotonic()
                    return {"close_s": event.time - clicked, "done_s": done - clicked}

                def floor() -> Sample:
                    mark = sim.mark()
                    nb.run_cell(3, wait=True, timeout=60)
                    sim.wait_for("request", since=mark, timeout=30)
                    time.sleep(SETTLE)
                    clicked = nb.click_button("Halt", cell=3)
                    event = sim.wait_for("disconnect", since=mark, timeout=15)
                    return {"close_s": event.time - clicked}

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
