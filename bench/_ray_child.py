"""One fresh process running ``ollama_nb.ray`` jobs; prints its figures as one JSON line.

    python -m bench._ray_child speed HOST_A HOST_B ITEMS ROUNDS   # items/s of run(), with and without ray.init
    python -m bench._ray_child memory HOST ROWS                   # the driver's peak RSS over a ROWS-row Parquet

A process of its own: the bench's process never holds a Ray (~630 MiB), and the first job of the
process is the one that pays for ``ray.init``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bench._rss_child import _status  # /proc/self/status readings, as the memory area takes them

MODEL = "llama3.2"
PACED_ITEM = "item {item.id} [[tokens=20]] [[delay=0.01]]"
CONCURRENCY = 4


def _parquet(folder: Path, rows: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / f"in-{rows}.parquet"
    pq.write_table(pa.table({"id": pa.array(range(rows), pa.int64()),
                             "text": pa.array([f"review number {i}" for i in range(rows)])}), path)
    return path


def speed(host_a: str, host_b: str, items: int, rounds: int) -> dict[str, object]:
    from ollama_nb import ray as onb_ray

    folder = Path(tempfile.mkdtemp(prefix="onb-bench-ray-"))
    source = _parquet(folder, items)
    walls = []
    t_process = time.perf_counter()
    for round_ in range(rounds + 1):
        t0 = time.perf_counter()
        if round_ == 0:
            onb_ray.start_ray(num_cpus=2)
            init_s = time.perf_counter() - t0
        job = onb_ray.run(source, PACED_ITEM, folder / f"out-{round_}", model=MODEL, hosts=[host_a, host_b],
                          concurrency=CONCURRENCY)
        job.wait()
        assert job.progress().ok == items, job.progress().line()
        walls.append(time.perf_counter() - t0)
        if round_ == 0:
            first_wall = time.perf_counter() - t_process
    return {"init_s": init_s, "first_job_with_init_s": first_wall, "walls_s": walls[1:],
            "items_per_s": [items / w for w in walls[1:]], "items_per_s_with_init": items / first_wall}


def memory(host: str, rows: int) -> dict[str, object]:
    """A job over ``rows`` rows, stopped after 2 s: every row still goes through the pipeline and
    is written (``not run``), without 200,000 model answers to wait for."""
    from ollama_nb import ray as onb_ray

    folder = Path(tempfile.mkdtemp(prefix="onb-bench-ray-"))
    source = _parquet(folder, rows)
    onb_ray.start_ray(num_cpus=2)
    before, hwm_before = _status("VmRSS"), _status("VmHWM")
    job = onb_ray.run(source, "Sentiment of: {item.text} [[tokens=5]]", folder / "out", model=MODEL, hosts=[host])
    time.sleep(2)
    job.stop()
    job.wait()
    p = job.progress()
    return {"rows": rows, "rss_after_init_kib": before, "peak_after_init_kib": hwm_before,
            "peak_rss_kib": _status("VmHWM"), "growth_kib": _status("VmHWM") - hwm_before, "done": p.done,
            "ok": p.ok, "not_run": p.not_run}


def main() -> int:
    mode = sys.argv[1]
    if mode == "speed":
        out = speed(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        out = memory(sys.argv[2], int(sys.argv[3]))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
