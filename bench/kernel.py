"""``%%ollama`` end to end in a real kernel (jupyter_client), on both kernel lines.

For each kernelspec (onb-k6: ipykernel 6, onb-k7: ipykernel 7), one kernel runs, interleaved:

- the baseline cell: raw httpx (``iter_lines`` + ``json.loads``) printing each token, the first
  one flushed at once (ipykernel batches the rest of stdout itself);
- the same prompt as a ``%%ollama`` cell (rewritten to an async cell, Stop button, Markdown view).

Measured per cell: wall time (execute request sent → ``idle`` status received), iopub bytes (sum
of ``len(json.dumps(msg['content']))`` over the cell's messages) against the reply's size in
UTF-8 bytes, ``update_display_data`` messages per second, and time to first token as a front
end sees it (request sent → first iopub message carrying reply text), on a short paced reply.
Targets: wall ≤ 2x raw, iopub ≤ 5x the reply, first token ≤ 20 ms later than raw.
"""

from __future__ import annotations

from typing import Any

from ._common import MODEL, SimProcess, Sample, interleave, log, paired_difference, reply_size, summarize
from ._kernel import Cell, Kernel, magic_cell, raw_cell, setup_code

KERNELS = ("onb-k6", "onb-k7")
E2E_PROMPT = "Write a long essay about rivers. [[tokens=5000]]"
#: The Markdown shapes a model writes at length (the simulator's [[shape=NAME]]), paced at 2,000 tokens/s.
SHAPES = ("paragraph", "paragraphs", "code", "list", "nested-list", "table", "quote")
SHAPE_PROMPT = "Write at length. [[shape={shape}]] [[tokens=4000]] [[delay=0.0005]]"
TTFT_PROMPT = "Say hello. [[tokens=40]] [[delay=0.005]]"
MARKER = "simulated"  # every simulated reply starts with "*(simulated reply)*"; prompts never contain it

TARGET_WALL = 2.0
TARGET_IOPUB = 5.0
TARGET_TTFT_ADDED = 0.020


def _first_text(cell: Cell) -> float | None:
    """When the first iopub message carrying reply text arrived, relative to the request."""
    for m in cell.messages:
        if m.msg_type in ("stream", "display_data", "update_display_data", "execute_result"):
            if MARKER in str(m.content.get("text", "")) or MARKER in str(m.content.get("data", "")):
                return m.received - cell.sent
    return None


def _e2e_sample(kernel: Kernel, code: str, size: int) -> Sample:
    cell = kernel.run(code, timeout=300)
    updates = cell.count("update_display_data")
    outputs = updates + cell.count("display_data") + cell.count("stream")
    return {
        "wall_s": cell.wall_s,
        "iopub_bytes": float(cell.iopub_bytes),
        "iopub_per_reply_byte": cell.iopub_bytes / size,
        "iopub_msgs": float(len(cell.messages)),
        "update_display_data": float(updates),
        "updates_per_s": updates / cell.wall_s,
        "output_msgs_per_s": outputs / cell.wall_s,
        "comm_msgs": float(cell.count("comm_open") + cell.count("comm_msg") + cell.count("comm_close")),
        "display_bytes": float(sum(m.size for m in cell.messages if m.msg_type in ("display_data", "update_display_data"))),
        "comm_bytes": float(sum(m.size for m in cell.messages if m.msg_type.startswith("comm_"))),
        "ttft_s": _first_text(cell),
    }


def _outputs_left(cell: Cell) -> int:
    """How many outputs the cell ends with (clear_output and display updates applied)."""
    count = 0
    for m in cell.messages:
        if m.msg_type == "clear_output":
            count = 0
        elif m.msg_type in ("display_data", "execute_result", "stream", "error"):
            count += 1
    return count


def _shape_sample(kernel: Kernel, shape: str, size: int) -> dict[str, Any]:
    cell = kernel.run(magic_cell(SHAPE_PROMPT.format(shape=shape)), timeout=300)
    return {
        "reply_bytes": size,
        "iopub_bytes": cell.iopub_bytes,
        "iopub_per_reply_byte": cell.iopub_bytes / size,
        "display_msgs": cell.count("display_data") + cell.count("update_display_data"),
        "outputs_left": _outputs_left(cell),
    }


def _ttft_sample(kernel: Kernel, code: str) -> Sample:
    cell = kernel.run(code, timeout=120)
    return {"ttft_s": _first_text(cell), "wall_s": cell.wall_s}


DIAGNOSTIC = "%%ollama, update_interval 0.01 (diagnostic)"
_SET_INTERVAL = (
    "_onb_magics = get_ipython().magics_manager.registry['OllamaMagics']\n"
    "_onb_saved_interval = _onb_magics.update_interval\n"
    "_onb_magics.update_interval = 0.01\n"
)
_RESTORE_INTERVAL = "_onb_magics.update_interval = _onb_saved_interval\n"


def _ttft_diagnostic(kernel: Kernel, code: str) -> Sample:
    """The magic with a 10 ms display interval: how much of the added delay is the throttle."""
    kernel.run(_SET_INTERVAL)
    try:
        return _ttft_sample(kernel, code)
    finally:
        kernel.run(_RESTORE_INTERVAL)


def bench_one_kernel(name: str, sim: SimProcess, size: int, *, quick: bool, shape_sizes: dict[str, int]) -> dict[str, Any]:
    with Kernel(name) as kernel:
        kernel.run(setup_code(sim.url, MODEL))
        warm = "Warm up. [[tokens=200]]"
        for _ in range(2):
            kernel.run(magic_cell(warm))
            kernel.run(raw_cell(warm))

        rounds = 3 if quick else 5
        log(f"kernel {name}: end to end, {rounds} interleaved rounds of a {size:,}-byte reply")
        e2e = interleave(
            [("raw httpx", lambda: _e2e_sample(kernel, raw_cell(E2E_PROMPT), size)),
             ("%%ollama", lambda: _e2e_sample(kernel, magic_cell(E2E_PROMPT), size))],
            rounds, warmup=0,
        )
        rounds_ttft = 6 if quick else 12
        log(f"kernel {name}: time to first token, {rounds_ttft} interleaved rounds")
        ttft = interleave(
            [("raw httpx", lambda: _ttft_sample(kernel, raw_cell(TTFT_PROMPT))),
             ("%%ollama", lambda: _ttft_sample(kernel, magic_cell(TTFT_PROMPT))),
             (DIAGNOSTIC, lambda: _ttft_diagnostic(kernel, magic_cell(TTFT_PROMPT)))],
            rounds_ttft, warmup=1,
        )
        log(f"kernel {name}: iopub traffic per Markdown shape ({len(SHAPES)} shapes, one run each)")
        shapes = {shape: _shape_sample(kernel, shape, shape_sizes[shape]) for shape in SHAPES}
    keys = ["wall_s", "iopub_bytes", "iopub_per_reply_byte", "iopub_msgs", "update_display_data",
            "updates_per_s", "output_msgs_per_s", "comm_msgs", "display_bytes", "comm_bytes", "ttft_s"]
    e2e_summary = summarize(e2e, "raw httpx", keys)
    ttft_summary = summarize(ttft, "raw httpx", ["ttft_s", "wall_s"])
    added = paired_difference(ttft, "%%ollama", "raw httpx", "ttft_s")
    added_diagnostic = paired_difference(ttft, DIAGNOSTIC, "raw httpx", "ttft_s")
    wall_ratio = e2e_summary["%%ollama"]["wall_s"]["ratio"]
    iopub = e2e_summary["%%ollama"]["iopub_per_reply_byte"]["median"]
    worst_shape = max(s["iopub_per_reply_byte"] for s in shapes.values())
    return {
        "reply_bytes": size,
        "e2e": {"prompt": E2E_PROMPT, "rounds": rounds, "contenders": e2e_summary},
        "shapes": {"prompt": SHAPE_PROMPT, "results": shapes},
        "ttft": {"prompt": TTFT_PROMPT, "rounds": rounds_ttft, "contenders": ttft_summary, "added_s": added,
                 "added_s_diagnostic": added_diagnostic},
        "checks": {
            "wall_vs_raw": {"value": wall_ratio, "target": f"<= {TARGET_WALL}", "met": wall_ratio is not None and wall_ratio <= TARGET_WALL},
            "iopub_vs_reply": {"value": iopub, "target": f"<= {TARGET_IOPUB}", "met": iopub is not None and iopub <= TARGET_IOPUB},
            "iopub_vs_reply_every_shape": {"value": worst_shape, "target": f"<= {TARGET_IOPUB}", "met": worst_shape <= TARGET_IOPUB},
            "one_output_every_shape": {
                "value": max(s["outputs_left"] for s in shapes.values()),
                "target": "2 (answer, footer)",
                "met": all(s["outputs_left"] == 2 for s in shapes.values()),
            },
            "ttft_added": {"value": added, "target": f"<= {TARGET_TTFT_ADDED}", "met": added is not None and added <= TARGET_TTFT_ADDED},
        },
    }


def bench_kernel(sim: SimProcess, *, quick: bool) -> dict[str, Any]:
    size = reply_size(sim.url, E2E_PROMPT)
    shape_sizes = {shape: reply_size(sim.url, SHAPE_PROMPT.format(shape=shape)) for shape in SHAPES}
    out: dict[str, Any] = {"kernels": {}}
    for name in KERNELS:
        try:
            out["kernels"][name] = bench_one_kernel(name, sim, size, quick=quick, shape_sizes=shape_sizes)
        except Exception as exc:
            import traceback

            log(f"kernel {name} FAILED: {exc!r}")
            out["kernels"][name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return out
