"""The long-lived actors of :func:`~ollama_nb.ray.run`: one :class:`HostWorker` per Ollama host,
started once per driver (the first job, or :func:`start_hosts`) and kept while Ray is up; each job
hands them blocks of rows.

Why: an actor's start is a Ray worker process that imports ollama_nb, pandas and pyarrow — seconds
on a laptop, ~20 s on a loaded 2-core machine. Ray Data's actor pool starts its actors again for
every job; these are started once.

A worker is an async actor. It answers one block at a time (the next block waits inside the actor,
already received, so the host idles between blocks only for the tail of one block), at most
``concurrency`` streams, with :class:`~ollama_nb.ray._prompt.BlockAnswers`; it writes the block's
rows as one Parquet file in the job's output folder and returns a small summary: counts, the rows
its host never answered (the host went away: the driver hands them to another host) and, when the
driver asks, each answered row's fields for the record. ``stop(job)`` closes the open streams at
once (no polling); later blocks are written ``not run``.

Example:
    >>> workers = start_hosts(["http://gpu1:11434", "http://gpu2:11434"])   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import collections
import os
import uuid
from pathlib import Path
from typing import Any, Mapping, Sequence

from ._prompt import BlockAnswers, Sent, no_host_outcome

__all__ = ["ACTOR_CPUS", "HostWorker", "start_hosts"]

#: CPUs each actor asks Ray for: a small fraction (they wait on sockets), so that the read tasks
#: always get a CPU however many workers are kept (with Ray's default of 1 the actors take every
#: CPU, the read task starves and the job hangs).
ACTOR_CPUS = 0.05
#: Workers kept for hosts that the current job does not use (the least recently used go first):
#: each is a process of ~150 MB.
SPARE_WORKERS = 4

#: The workers of this driver, by host, least recently used first, and the Ray connection they belong to.
_POOL: collections.OrderedDict[str, Any] = collections.OrderedDict()
_POOL_OF: list[str] = [""]


class _Job:
    """One job as a worker sees it."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.answers = BlockAnswers(**settings["answers"])
        self.control = settings["control"]
        self.out_dir = Path(settings["out_dir"])
        self.run = settings["run"]
        self.collect = bool(settings["collect"])
        self.stopped = False
        self.batches: set[Any] = set()


class HostWorker:
    """One Ollama host's actor (see the module docstring); ``host`` is the URL it sends to."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.jobs: dict[str, _Job] = {}
        self.turn = asyncio.Lock()  # one block at a time: at most ``concurrency`` streams on the host

    def ready(self) -> str:
        """The host, once the actor is up with what a block needs imported (part of its start-up)."""
        import pandas  # noqa: F401
        import pyarrow.parquet  # noqa: F401

        return self.host

    def begin(self, job_id: str, settings: Mapping[str, Any]) -> None:
        self.jobs[job_id] = _Job(settings)

    def end(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def stop(self, job_id: str) -> None:
        """Close every open stream of the job now; later blocks are written ``not run``."""
        job = self.jobs.get(job_id)
        if job is not None:
            job.stopped = True
            for batch in list(job.batches):
                batch.stop()

    async def send(self, job_id: str, seq: int, table: Any) -> dict[str, Any]:
        """Answer one block (a pyarrow table of input rows), write it, return the summary."""
        job = self.jobs[job_id]
        kept, prompts, keys, reused = job.answers.prepare(table.to_pandas())
        if reused:
            job.control.add_reused.remote(reused)
        async with self.turn:
            if job.stopped:
                sent = Sent([{"status": "not run"} for _ in prompts])
                job.control.add_not_run.remote(len(prompts))
            else:
                sent = await job.answers.send(self.host, prompts, on_result=lambda r: _told(job, r),
                                              on_start=job.batches.add)
                job.batches.clear()
        answered = [i for i, o in enumerate(sent.outcomes) if o is not None]
        results = [sent.outcomes[i] for i in answered]
        self._write(job, seq, kept.iloc[answered], results, [keys[i] for i in answered])
        left = None
        if sent.unanswered:
            import pyarrow as pa

            left = pa.Table.from_pandas(kept.iloc[sent.unanswered], preserve_index=False)
        rows = [{"prompt": prompts[i], **(sent.outcomes[i] or {})} for i in answered
                if (sent.outcomes[i] or {}).get("status") in ("ok", "error")] if job.collect else []
        return {"host": self.host, "unanswered": left, "last_error": sent.last_error, "record": rows}

    def fail(self, job_id: str, seq: int, table: Any, last_error: str | None) -> dict[str, Any]:
        """Write a block that no host is left to answer: every row failed, saying why."""
        job = self.jobs[job_id]
        kept, prompts, keys, _ = job.answers.prepare(table.to_pandas())
        results = [no_host_outcome(last_error) for _ in prompts]
        for _ in prompts:
            job.control.add.remote("error", None, None, None, None)
        self._write(job, seq, kept, results, keys)
        return {"host": self.host, "unanswered": None, "last_error": last_error, "record": []}

    @staticmethod
    def _write(job: _Job, seq: int, block: Any, results: list[Any], keys: list[str]) -> None:
        """One Parquet file per block, renamed into place once complete (a reader never sees half a file)."""
        import pyarrow.parquet as pq

        if not keys:
            return
        table = job.answers.table(block, results, keys)
        name = f"{job.run}-{seq:06d}.parquet"
        partial = job.out_dir / f".{name}.{uuid.uuid4().hex[:6]}"
        pq.write_table(table, partial)
        os.replace(partial, job.out_dir / name)


def _told(job: _Job, result: Any) -> None:
    preview = (result.answer or "")[:200] if result.status == "ok" else result.error
    job.control.add.remote(result.status, result.host, result.index, preview, result.output_tokens)


def start_hosts(hosts: Sequence[str]) -> dict[str, Any]:
    """This driver's worker actor for each host, started (in parallel) if it is not yet; they live
    as long as this Ray connection. ``ray.init`` (or :func:`~ollama_nb.ray.start_ray`) first.

    Example:
        >>> start_ray(); start_hosts(["http://127.0.0.1:11434"])   # doctest: +SKIP
    """
    import ray

    connection = ray.get_runtime_context().get_job_id()
    if _POOL_OF[0] != connection:  # another ray.init: the old handles are gone with it
        _POOL.clear()
        _POOL_OF[0] = connection
    wanted = list(dict.fromkeys(hosts))
    for host in wanted:
        if host in _POOL:
            _POOL.move_to_end(host)
    spare = [h for h in _POOL if h not in wanted]
    for host in spare[:max(0, len(spare) - SPARE_WORKERS)]:
        ray.kill(_POOL.pop(host))
    new = [h for h in wanted if h not in _POOL]
    actor = ray.remote(HostWorker).options(num_cpus=ACTOR_CPUS, max_concurrency=64)
    for host in new:
        _POOL[host] = actor.remote(host)
    try:
        ray.get([_POOL[h].ready.remote() for h in new])
    except Exception:
        for host in new:
            _POOL.pop(host, None)
        raise
    return {h: _POOL[h] for h in hosts}


def forget_host(host: str) -> None:
    """Drop ``host``'s worker (its actor died): the next job starts a new one."""
    _POOL.pop(host, None)
