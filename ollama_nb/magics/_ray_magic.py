"""``%%ollama --over NAME --ray OUT_DIR``: the cell's template over a dataset on Ray Data (the ``ray``
extra), with the batch's progress view: items, ok/failed, items/s; Stop (or the interrupt) sets the
job's stop flag. NAME is a Ray Dataset, a DataFrame or a Parquet path (a variable, or the path itself); OUT_DIR a path
or a variable holding one.

The answers are in OUT_DIR's Parquet files. The session's SQLite record gets one row per item sent
(written here, on the driver: the record's only writer) when the job has at most
``ollama_nb.ray.RECORD_ROWS`` rows (50,000), keyed as ``--over`` keys its items, so a later
``--over`` with the cache finds them; above that, the summary says that the Parquet folder is the
record of that job. ``-o VAR`` stores the output as a DataFrame (``ollama_nb.ray.read_output``).
Every ``{name}`` of the namespace is filled in on the driver; ``{item.col}`` per row on the actors.

Example (a notebook cell)::

    %%ollama --over reviews.parquet --ray out/ --hosts http://gpu1:11434,http://gpu2:11434
    Classify this review as positive, negative or mixed: {item.text}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .._interpolate import interpolate

if TYPE_CHECKING:
    from ._magics import MagicCall, OllamaMagics

__all__ = ["conclude_ray_job", "start_ray_job"]

#: Request fields of a prompt cell that a Ray job passes on.
_PASSED = ("format", "system")


def start_ray_job(magics: OllamaMagics, call: MagicCall) -> Any:
    """Start the job (``ollama_nb.ray.run``) for this cell; a one-line UsageError for what cannot run."""
    try:
        from .. import ray as onb_ray
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    args = call.args
    source = magics.shell.user_ns.get(args.over, args.over)
    if isinstance(source, str) and not Path(source).exists():
        raise UsageError(f"--over with --ray takes a Ray Dataset, a DataFrame or a Parquet path; "
                         f"{args.over!r} is none.")
    if "images" in call.extra or len(call.models) > 1:
        raise UsageError("--ray runs one model with no images; give one -m and no --image.")
    hosts = args.hosts or magics.hosts or call.session.host
    concurrency = args.concurrency if args.concurrency is not None else (magics.concurrency or 4)
    prompt = call.prompt
    if args.interpolate:  # the namespace stays here: only {item...} and {index} are left for the actors
        names = {k: v for k, v in magics.shell.user_ns.items() if k not in ("item", "index")}
        prompt = interpolate(prompt, names)
    extra = {k: v for k, v in call.extra.items() if k in _PASSED}
    out_dir = magics.shell.user_ns.get(args.ray, args.ray)  # a path, or the name of a variable holding one
    try:
        return onb_ray.run(source, prompt, out_dir, model=call.model, hosts=hosts, concurrency=concurrency,
                           **extra, **call.options)
    except (TypeError, ValueError, onb_ray.RayJobError) as exc:
        raise UsageError(str(exc)) from None


def conclude_ray_job(magics: OllamaMagics, call: MagicCall, job: Any) -> None:
    """Say where the Parquet is, write the rows to the record (or say why not); ``-o VAR``: the output
    as a DataFrame."""
    from ..ray import RECORD_ROWS

    if job.error:
        print(f"The Ray job failed: {job.error}")
    print(f"Answers written as Parquet to {job.out_dir} (read them with ollama_nb.ray.read_output).")
    written = job.record_to(call.session)
    if written is None:
        print(f"The record has no rows of this job ({len(job):,} rows > {RECORD_ROWS:,}): "
              "its Parquet folder is the record of this job.")
    if call.args.output:
        from ..ray import read_output

        magics.shell.user_ns[call.args.output] = read_output(job.out_dir)
