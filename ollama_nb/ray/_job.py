"""Starting a job: :func:`run` (Parquet or a DataFrame in, Parquet out, in the background) and
:func:`map` (a Ray Dataset in, a lazy Ray Dataset out, for pipelines of your own).

A job: the input is read block by block (``_source``), the driver hands the blocks to one
long-lived actor per host (``_worker``: started by the first job, reused by the next) through a
``_feed.Feeder``, a small control actor (``_control``) keeps the counts for ``progress()``.

Settings that keep it working on a laptop and in CI (see :func:`start_ray`): each actor asks for
``ACTOR_CPUS`` (a small fraction of a CPU: with the default of 1 the actors take every CPU and the
read tasks starve, so the job hangs), the input is cut into at least ``BLOCKS_PER_ACTOR`` blocks
per host (every host gets work), Ray's temporary folder goes under the output folder (``_ray``,
ignored when the Parquet is read) and Ray's usage statistics are off.

Example:
    >>> job = run("reviews.parquet", "Sentiment of: {item.text}", "out/", model="llama3.2",   # doctest: +SKIP
    ...           hosts=["http://gpu1:11434", "http://gpu2:11434"])
    >>> job.wait(); job.to_pandas()                                                           # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .._errors import OllamaError
from ..client import resolve_host
from . import _record
from ._feed import Feeder
from ._prompt import ANSWER_FIELDS, Prompt
from ._results import RayJob, finished_keys
from ._source import arrow_schema, rows_of
from ._worker import ACTOR_CPUS, start_hosts

__all__ = ["ACTOR_CPUS", "BLOCKS_PER_ACTOR", "RayJobError", "map", "run", "start_ray"]

#: Blocks the input is split into, per actor, at least (so every host gets work).
BLOCKS_PER_ACTOR = 4
#: Seconds Ray Data waits for every actor of ``map`` to start before it hands out blocks.
ACTOR_START_S = 600
#: Times ``start_ray`` tries ``ray.init`` before its error stands.
START_ATTEMPTS = 3
#: Rows per block at most: big enough that a host's streams rarely wait for the last rows of a
#: block, small enough that every host gets several blocks (a stop is at once whatever the size).
ROWS_PER_BLOCK = 1024


class RayJobError(OllamaError):
    """A job that cannot start: a bad source, a column name the answers need, no host."""


def start_ray(temp_dir: str | os.PathLike[str] | None = None, **init: Any) -> None:
    """``ray.init`` with the settings above, unless Ray is already running (then it is used as is:
    a cluster of your own, ``ray.init(address=...)``).

    Example:
        >>> start_ray(num_cpus=2)   # doctest: +SKIP
    """
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # a busy laptop or CI runner starts Ray's processes slowly (45 s seen with 2 cores under load)
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "300")
    os.environ.setdefault("RAY_agent_register_timeout_ms", "300000")
    if temp_dir is not None and len(str(Path(temp_dir).resolve())) <= 60:  # Ray's socket paths must stay short
        init.setdefault("_temp_dir", str(Path(temp_dir).resolve()))
    if "address" not in init:
        init.setdefault("include_dashboard", False)
        init.setdefault("_node_ip_address", "127.0.0.1")  # a local Ray on the loopback only
    init.setdefault("log_to_driver", False)
    init.setdefault("logging_level", logging.ERROR)  # no INFO and WARNING lines in the cell
    for attempt in range(START_ATTEMPTS):
        try:
            ray.init(**init)
            return
        except Exception:  # Ray's raylet waits 15 s (fixed) for its agents: a loaded machine can miss that
            ray.shutdown()
            if attempt == START_ATTEMPTS - 1:
                raise


def _hosts(hosts: Sequence[str] | str | None) -> list[str]:
    if isinstance(hosts, str):
        hosts = hosts.split(",")
    if not hosts:
        return [resolve_host(None)]  # OLLAMA_HOST, else the local Ollama
    urls = list(dict.fromkeys(resolve_host(h.strip()) for h in hosts if h.strip()))
    if not urls:
        raise RayJobError("no host: give hosts=['http://host:11434', ...].")
    return urls


def _digest(host: str, model: str) -> str | None:
    """The model's digest on the first host (the record's keys use it); None when it cannot say."""
    from ..client import Client

    try:
        with Client(host) as client:
            for m in client.models():
                if m.name in (model, f"{model}:latest"):
                    return str(m.raw.get("digest") or "") or None
    except OllamaError:
        return None
    return None


def _block_rows(total: int, actors: int) -> int:
    """Rows per block: at least ``BLOCKS_PER_ACTOR`` blocks per actor, at most ``ROWS_PER_BLOCK`` rows each."""
    blocks = max(actors * BLOCKS_PER_ACTOR, -(-total // ROWS_PER_BLOCK))
    return max(1, -(-total // blocks))


def _configure() -> None:
    """No progress bars nor per-dataset log lines from Ray Data in the cell (the job has its own), and
    no block handed out before every actor is up (else the first actor up takes every block: one host)."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.wait_for_min_actors_s = ACTOR_START_S
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def _checked(schema: Any) -> Any:
    """``schema`` (Arrow's or a Ray Dataset's) as :func:`arrow_schema` makes it; a RayJobError when
    a column name is one the answers need."""
    names = list(schema.names) if schema is not None else []
    clash = [name for name in names if name in ANSWER_FIELDS]
    if clash:
        raise RayJobError(f"the input already has column(s) {', '.join(clash)}: rename them (the answers use them).")
    return arrow_schema(schema)


def _answers(prompt: str | Callable[[Any], str], *, model: str, hosts: list[str], concurrency: int, format: Any,
             system: str | None, options: Mapping[str, Any], skip_keys: Any, input_schema: Any) -> dict[str, Any]:
    """The keywords of :class:`~ollama_nb.ray._prompt.BlockAnswers` for this job."""
    return {"prompt": prompt, "model": model, "concurrency": concurrency, "format": format, "system": system,
            "options": dict(options), "digest": _digest(hosts[0], model), "skip_keys": skip_keys,
            "input_schema": input_schema}


def _mapped(ds: Any, answers: Mapping[str, Any], *, hosts: list[str], control: Any) -> Any:
    """``ds`` with the answer columns, on Ray Data's own actor pool (one :class:`Prompt` actor per host)."""
    import ray.data

    # blocks of ROWS_PER_BLOCK rows, streaming (one Parquet row group or a folder of small files is one block)
    ds = ds.repartition(target_num_rows_per_block=ROWS_PER_BLOCK, strict=True)
    pool = ray.data.ActorPoolStrategy(size=len(hosts))
    return ds.map_batches(Prompt, fn_constructor_kwargs={**answers, "hosts": hosts, "control": control}, compute=pool,
                          num_cpus=ACTOR_CPUS, batch_format="pandas", batch_size=ROWS_PER_BLOCK)


def _control(hosts: list[str], total: int) -> Any:
    import ray

    from ._control import JobControl

    return ray.remote(num_cpus=0)(JobControl).remote(hosts, total, time.time())  # its process starts later


def map(ds: Any, prompt: str | Callable[[Any], str], *, model: str, hosts: Sequence[str] | str | None = None,
        concurrency: int = 4, format: Any = None, system: str | None = None, **options: Any) -> Any:
    """``ds`` with the answer columns added (lazy: nothing is sent until the Dataset is consumed).

    Example:
        >>> out = map(ray.data.read_parquet("in/"), "Sum up: {item.text}", model="llama3.2")  # doctest: +SKIP
        >>> out.write_parquet("out/")                                                         # doctest: +SKIP
    """
    urls = _hosts(hosts)
    _configure()
    answers = _answers(prompt, model=model, hosts=urls, concurrency=concurrency, format=format, system=system,
                       options=options, skip_keys=(), input_schema=_checked(ds.schema()))
    return _mapped(ds, answers, hosts=urls, control=_control(urls, 0))


def run(source: Any, prompt: str | Callable[[Any], str], out_dir: str | os.PathLike[str], *, model: str,
        hosts: Sequence[str] | str | None = None, concurrency: int = 4, format: Any = None, system: str | None = None,
        **options: Any) -> RayJob:
    """Send ``prompt`` once per row of ``source`` on Ray, writing Parquet to ``out_dir``; returns at
    once with a :class:`RayJob` (``stop()``, ``wait()``, ``progress()``, ``to_pandas()``,
    ``record_to(session)``). Running it again with the same ``out_dir`` sends only the rows without
    an ``ok`` answer there. The hosts' worker actors are started by the first job and reused by the
    next ones (:func:`start_hosts` starts them ahead).

    Example:
        >>> job = run(df, "Sentiment of: {item.text}", "out/", model="llama3.2", hosts="h1,h2")  # doctest: +SKIP
    """
    import ray

    if concurrency < 1:
        raise RayJobError("concurrency must be 1 or more.")
    urls = _hosts(hosts)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start_ray(out / "_ray")
    _configure()
    try:
        rows = rows_of(source)
    except (OSError, ValueError, TypeError) as exc:  # a missing path; pyarrow's ArrowInvalid/ArrowTypeError
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        what = f"{os.fspath(source)!r} as Parquet" if isinstance(source, (str, os.PathLike)) else "the DataFrame"
        raise RayJobError(f"cannot read {what}: {first}") from None
    if rows is None:
        raise RayJobError(f"run() takes a Ray Dataset, a pandas DataFrame or a Parquet path, not "
                          f"{type(source).__name__}.")
    total = rows.total
    answers = _answers(prompt, model=model, hosts=urls, concurrency=concurrency, format=format, system=system,
                       options=options, skip_keys=finished_keys(out), input_schema=_checked(rows.schema))
    control = _control(urls, total)
    workers = start_hosts(urls)
    job_id = uuid.uuid4().hex[:12]
    collect = total <= _record.RECORD_ROWS
    settings = {"answers": answers, "control": control, "out_dir": str(out.resolve()), "run": job_id,
                "collect": collect}
    ray.get([w.begin.remote(job_id, settings) for w in workers.values()])
    feeder = Feeder(rows.blocks(_block_rows(total, len(urls))), workers, job_id=job_id, control=control,
                    collect=collect)
    request = {"model": model, "format": format, "system": system, "options": dict(options)}
    return RayJob(feeder, out, control, model=model, total=total, hosts=urls, request=request).start()
