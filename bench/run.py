"""Run every benchmark against the bundled simulator; write results.json and results.md.

    .venv/bin/python bench/run.py                   # full: about 10 minutes on 2 cores
    .venv/bin/python bench/run.py --quick           # fewer rounds: under about 3 minutes
    .venv/bin/python bench/run.py --quick --only streams     # a smoke run
    .venv/bin/python bench/run.py --readme README.md         # also refresh the table there

Areas: streams, first_token, kernel, stop, memory, record, batch, live, experiment, transport, embed, ray (``--only
a,b``). Every figure is a ratio to a baseline measured in the same run, as the median of interleaved rounds (see
bench/README.md).
An area that fails is recorded with its error and the others still run; the exit status is 1
when an area failed, 0 otherwise (missed targets are reported, not fatal).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "bench"

from bench._common import REPO, SimProcess, log, machine_info  # noqa: E402
from bench.report import render_markdown, update_readme  # noqa: E402

AREAS = ("streams", "first_token", "kernel", "stop", "memory", "record", "batch", "live", "experiment", "transport",
         "embed", "ray")


def _area(name: str) -> Callable[..., dict[str, Any]]:
    if name == "streams":
        from bench.streams import bench_streams

        return bench_streams
    if name == "first_token":
        from bench.first_token import bench_first_token

        return bench_first_token
    if name == "kernel":
        from bench.kernel import bench_kernel

        return bench_kernel
    if name == "stop":
        from bench.stop import bench_stop

        return bench_stop
    if name == "memory":
        from bench.memory import bench_memory

        return bench_memory
    if name == "record":
        from bench.record import bench_record

        return bench_record
    if name == "batch":
        from bench.batch import bench_batch

        return bench_batch
    if name == "live":
        from bench.live import bench_live

        return bench_live
    if name == "experiment":
        from bench.experiment import bench_experiment

        return bench_experiment
    if name == "transport":
        from bench.transport import bench_transport

        return bench_transport
    if name == "embed":
        from bench.embed import bench_embed

        return bench_embed
    if name == "ray":
        from bench.ray_data import bench_ray

        return bench_ray
    raise ValueError(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI); under about 3 minutes")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"), help="directory for results.json and results.md")
    parser.add_argument("--only", default="", help=f"comma-separated areas of {', '.join(AREAS)}")
    parser.add_argument("--readme", default=None, metavar="PATH",
                        help="replace the text between <!-- bench:start --> and <!-- bench:end --> in PATH with the table")
    args = parser.parse_args(argv)

    areas = [a.strip() for a in args.only.split(",") if a.strip()] or list(AREAS)
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        parser.error(f"unknown area {unknown[0]!r}; choose from {', '.join(AREAS)}")

    # every area records its turns as a user's session does, into a file of this run, not the user's record
    scratch = tempfile.TemporaryDirectory(prefix="onb-bench-")
    os.environ["OLLAMA_NB_DB"] = os.path.join(scratch.name, "record.db")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "areas": {},
    }
    failed = False
    log(f"{results['mode']} run of {', '.join(areas)}")
    with SimProcess() as sim:
        log(f"simulator process at {sim.url}")
        for name in areas:
            t0 = time.monotonic()
            try:
                results["areas"][name] = _area(name)(sim, quick=args.quick)
            except Exception as exc:
                failed = True
                log(f"{name} FAILED: {exc!r}")
                results["areas"][name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            results["areas"][name]["seconds"] = round(time.monotonic() - t0, 1)
            log(f"{name} done in {results['areas'][name]['seconds']} s")
    results["seconds"] = round(time.monotonic() - started, 1)

    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    markdown = render_markdown(results)
    (out_dir / "results.md").write_text(markdown)
    if args.readme:
        update_readme(Path(args.readme), render_markdown(results, title=False))
    print(markdown)
    log(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'} in {results['seconds']} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
