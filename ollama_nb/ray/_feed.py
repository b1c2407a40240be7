"""The driver's side of a :func:`~ollama_nb.ray.run` job: it reads the input block by block (see
``_source``: the driver holds a few blocks at a time whatever the input's size) and hands each block
to the host worker with the least work in hand, keeping :data:`BLOCKS_IN_HAND` blocks at each so
that no host waits for the driver.

A worker whose host went away hands back the rows it never answered: its host leaves the job's
rotation and those rows go to a host still in it; when none is left they are written failed, with
the last error. Rows are never lost: each ends as ``ok``, ``error`` or ``not run`` in the output.

Example:
    >>> feeder = Feeder(rows.blocks(256), workers, job_id="j", control=control, collect=True)  # doctest: +SKIP
    >>> feeder.run()                                                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = ["BLOCKS_IN_HAND", "Feeder"]

#: Blocks each worker has in hand at most (one answered, the next waiting inside the actor).
BLOCKS_IN_HAND = 2
#: Seconds between two looks at the workers while waiting for one to finish a block.
WAIT_S = 0.5


class Feeder:
    """Hands ``blocks`` (pyarrow tables) to ``workers`` (host → actor) for the job ``job_id``."""

    def __init__(self, blocks: Iterable[Any], workers: Mapping[str, Any], *, job_id: str, control: Any,
                 collect: bool) -> None:
        self.blocks = blocks
        self.workers = dict(workers)
        self.live = list(workers)
        self.job_id = job_id
        self.control = control
        self.collect = collect
        self.record: list[dict[str, Any]] = []  # the answered rows, for the record (when ``collect``)
        self.seq = 0
        self.pending: dict[Any, tuple[str, Any]] = {}  # ref → (host, the block's input rows)
        self.last_error: str | None = None

    def load(self, host: str) -> int:
        return sum(1 for h, _ in self.pending.values() if h == host)

    def run(self) -> None:
        """Every block handed out and settled (in the job's thread)."""
        for table in self.blocks:
            while self.pending and all(self.load(h) >= BLOCKS_IN_HAND for h in self.live):
                self._settle_one()
            self._hand(table)
        while self.pending:
            self._settle_one()

    def stop(self) -> None:
        """Every worker closes the job's open streams now."""
        for worker in self.workers.values():
            worker.stop.remote(self.job_id)

    def end(self) -> None:
        """The workers forget the job (its settings and finished keys)."""
        for worker in self.workers.values():
            try:
                worker.end.remote(self.job_id)
            except Exception:  # Ray is gone: so are they
                pass

    def _hand(self, table: Any) -> None:
        self.seq += 1
        if self.live:
            host = min(self.live, key=self.load)
            ref = self.workers[host].send.remote(self.job_id, self.seq, table)
        else:  # no host left: the block is written failed (by any worker: its actor is still there)
            host = next(iter(self.workers))  # (a worker that died has left self.workers)
            ref = self.workers[host].fail.remote(self.job_id, self.seq, table, self.last_error)
        self.pending[ref] = (host, table)

    def _settle_one(self) -> None:
        import ray

        done, _ = ray.wait(list(self.pending), num_returns=1, timeout=WAIT_S)
        for ref in done:
            host, table = self.pending.pop(ref)
            try:
                summary = ray.get(ref)
            except ray.exceptions.RayActorError as exc:  # the actor itself died: its host is out, its rows go on
                from ._worker import forget_host

                forget_host(host)
                self.workers.pop(host, None)
                if not self.workers:
                    raise RuntimeError(f"every worker actor died (last: {host}, {type(exc).__name__}).") from None
                summary = {"unanswered": table, "last_error": f"the worker for {host} died ({type(exc).__name__})",
                           "record": []}
            self.record.extend(summary["record"])
            if summary["unanswered"] is not None:
                self.last_error = summary["last_error"]
                if host in self.live:
                    self.live.remove(host)
                    self.control.host_died.remote(host, summary["last_error"])
                self._hand(summary["unanswered"])
