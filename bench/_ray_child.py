"""One fresh process running ``ollama_nb.ray`` jobs; prints its figures as one JSON line.

    python -m bench._ray_child speed HOST_A HOST_B ITEMS ROUNDS   # items/s of run(): start-up apart, then jobs
    python -m bench._ray_child memory HOST ROWS                   # the driver's peak RSS over a ROWS-row Parquet

A process of its own: the bench's process never holds a Ray (~630 MiB), and the start-up (``ray.init``,
then the host workers' start) is timed apart from the jobs.
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
    """``ray.init``, the workers' start, then ``rounds`` jobs of ``items`` rows (each its own output)."""
    from ollama_nb import ray as onb_ray

    folder = Path(tempfile.mkdtemp(prefix="onb-bench-ray-"))
    source = _parquet(folder, items)
    t0 = time.perf_counter()
    onb_ray.start_ray(num_cpus=2)
    init_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    onb_ray.start_hosts([host_a, host_b])
    actors_s = time.perf_counter() - t1
    walls = []
    for round_ in range(rounds):
        t = time.perf_counter()
        job = onb_ray.run(source, PACED_ITEM, folder / f"out-{round_}", model=MODEL, hosts=[host_a, host_b],
                          concurrency=CONCURRENCY)
        job.wait()
        assert job.error is None and job.progress().ok == items, (job.error, job.progress().line())
        walls.append(time.perf_counter() - t)
    first_with_startup = init_s + actors_s + walls[0]
    return {"init_s": init_s, "actors_s": actors_s, "walls_s": walls, "items_per_s": [items / w for w in walls],
            "first_job_with_startup_s": first_with_startup, "items_per_s_with_startup": items / first_with_startup}


def memory(host: str, rows: int) -> dict[str, object]:
    """A job over ``rows`` rows, stopped after 2 s: every row still goes through the pipeline and
    is written (``not run``), without 200,000 model answers to wait for."""
    from ollama_nb import ray as onb_ray

    folder = Path(tempfile.mkdtemp(prefix="onb-bench-ray-"))
    source = _parquet(folder, rows)
    onb_ray.start_ray(num_cpus=2)
    onb_ray.start_hosts([host])
    before, hwm_before = _status("VmRSS"), _status("VmHWM")
    t0 = time.perf_counter()
    job = onb_ray.run(source, "Sentiment of: {item.text} [[tokens=5]]", folder / "out", model=MODEL, hosts=[host])
    time.sleep(2)
    job.stop()
    job.wait()
    p = job.progress()
    return {"rows": rows, "rss_after_init_kib": before, "peak_after_init_kib": hwm_before,
            "peak_rss_kib": _status("VmHWM"), "growth_kib": _status("VmHWM") - hwm_before, "done": p.done,
            "ok": p.ok, "not_run": p.not_run, "wall_s": time.perf_counter() - t0, "error": job.error}


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
