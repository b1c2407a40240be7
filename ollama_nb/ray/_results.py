"""A job running in the background and what it wrote: :class:`RayJob` and reading the output folder.

The output folder is a set of Parquet files, one run after another: a resumed job adds files.
Reading it (:func:`read_output`) keeps, per ``request_key``, the ``ok`` rows, or else the last
row written; :func:`finished_keys` are the keys a new run does not send again.

Example:
    >>> job = run(df, "Sum up: {item.text}", "out/", model="llama3.2")   # doctest: +SKIP
    >>> job.progress().line()                                            # doctest: +SKIP
    '120/1000 · 118 ok · 2 failed · 71.3 items/s · ...'
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Mapping

from ..batch import BatchProgress, ItemResult, one_line

__all__ = ["RayJob", "finished_keys", "read_output"]


def _files(out_dir: Path) -> list[str]:
    """The job's Parquet files (not Ray's own ``_ray`` folder, not hidden files)."""
    return sorted(str(p) for p in out_dir.glob("*.parquet") if not p.name.startswith((".", "_")))


def finished_keys(out_dir: Path) -> frozenset[str]:
    """The request keys that have an ``ok`` answer in ``out_dir`` already."""
    import pyarrow.parquet as pq

    keys: set[str] = set()
    for path in _files(out_dir):
        table = pq.read_table(path, columns=["request_key", "status"])
        for key, status in zip(table.column("request_key").to_pylist(), table.column("status").to_pylist()):
            if status == "ok" and key is not None:
                keys.add(key)
    return frozenset(keys)


def read_output(out_dir: str | Path) -> Any:
    """The output folder as one DataFrame: per request key the ``ok`` rows, else the last written;
    ``parsed`` as objects (it is JSON text in the Parquet)."""
    import pandas
    import pyarrow.parquet as pq

    files = _files(Path(out_dir))
    if not files:
        return pandas.DataFrame()
    frame = pandas.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    ok = frame["status"] == "ok"
    answered = set(frame.loc[ok, "request_key"])
    rest = frame[~ok & ~frame["request_key"].isin(answered)].drop_duplicates("request_key", keep="last")
    frame = pandas.concat([frame[ok], rest]).sort_index().reset_index(drop=True)
    frame["parsed"] = [json.loads(v) if isinstance(v, str) else None for v in frame["parsed"]]
    return frame


class RayJob:
    """A :func:`~ollama_nb.ray.run` job: it writes in a thread of its own; ``progress()`` reads the
    job's control actor; ``stop()`` sets its flag (every stream closed, the rest written ``not run``).

    It also has what the notebook's progress view reads (``done``, ``latest()``, ``host_figures()``,
    ``len()``, ``model``), so ``%%ollama --over NAME --ray OUT`` shows it like a batch.
    """

    def __init__(self, feeder: Any, out_dir: Path, control: Any, *, model: str, total: int, hosts: list[str],
                 request: Mapping[str, Any] | None = None) -> None:
        self.out_dir = out_dir
        self.model = model
        self.total = total
        self.hosts = hosts
        self.error: str | None = None
        self.request = dict(request or {"model": model})
        self._feeder = feeder
        self._control = control
        self._last: dict[str, Any] | None = None
        self._ended = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RayJob:
        """Hand the dataset's blocks to the host workers in a thread of its own; returns the job (once)."""

        def main() -> None:
            try:
                self._feeder.run()
            except Exception as exc:  # nothing else would see it in this thread
                self.error = one_line(exc)
            finally:
                self._snapshot()
                self._feeder.end()
                self._ended.set()

        self._thread = threading.Thread(target=main, name="ollama_nb-ray-job", daemon=True)
        self._thread.start()
        return self

    @property
    def id(self) -> str:
        """The job's id: its Parquet files' prefix and its rows' batch tag in the record."""
        return f"ray-{self._feeder.job_id}"

    def record_to(self, session: Any) -> int | None:
        """Write this job's rows to ``session``'s SQLite record (waits for the end): one turn per row
        sent, keyed as ``Session.map`` keys its items. Returns how many; None when the job has more
        than :data:`~ollama_nb.ray.RECORD_ROWS` rows (its Parquet folder is then its record).

        Example:
            >>> job.record_to(ollama_nb.get_session())   # doctest: +SKIP
            40
        """
        from ._record import write_record

        self.wait()
        if not self._feeder.collect:
            return None
        return write_record(self._feeder.record, session.recording, request=self.request, batch=self.id)

    # -- what the caller reads ----------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once every block is written (or the job failed)."""
        return self._ended.is_set()

    def __len__(self) -> int:
        return self.total

    def _snapshot(self) -> dict[str, Any]:
        if self._last is not None and self.done:
            return self._last
        import ray

        try:
            self._last = ray.get(self._control.progress.remote(), timeout=30)
        except Exception:  # the control is busy or gone (Ray shut down): the last figures stand
            pass
        return self._last or {"total": self.total, "counts": {}, "tokens": 0, "sent_done": 0, "elapsed_s": 0.0,
                              "latest": [], "live": self.hosts, "per_host": {}, "stopping": False}

    def progress(self) -> BatchProgress:
        """Counts and rates now: done/total, ok/failed, not run, items/s (rows sent), reused rows."""
        p = self._snapshot()
        counts, elapsed, sent = p["counts"], p["elapsed_s"], p["sent_done"]
        reused, ok, failed, not_run = (counts.get(k, 0) for k in ("reused", "ok", "error", "not run"))
        done = min(self.total, reused + ok + failed + not_run)
        rate = sent / elapsed if sent and elapsed > 0 else None
        return BatchProgress(
            total=self.total, done=done, ok=ok + reused, failed=failed, not_run=not_run, tokens=p["tokens"],
            elapsed_s=elapsed, items_per_s=rate,
            tokens_per_s=p["tokens"] / elapsed if p["tokens"] and elapsed > 0 else None,
            eta_s=(self.total - done) / rate if rate else None, finished=self.done, reused=reused,
        )

    def latest(self, n: int = 5) -> list[ItemResult]:
        """The most recent answers, newest first (previews)."""
        rows = list(reversed(self._snapshot()["latest"]))[:max(n, 0)]
        return [ItemResult(r["index"], 0, "", answer=r["answer"] if r["status"] == "ok" else None, status=r["status"],
                           error=r["answer"] if r["status"] != "ok" else None, host=r["host"]) for r in rows]

    def host_figures(self) -> list[dict[str, Any]]:
        """Per host: still in rotation, items answered and failed, tokens, tokens/s."""
        p = self._snapshot()
        elapsed = p["elapsed_s"]
        keys = ("items", "failed", "tokens", "last_error")
        return [{"host": h, "in_rotation": h in p["live"], **{k: f.get(k) for k in keys},
                 "tokens_per_s": f.get("tokens", 0) / elapsed if elapsed > 0 else None}
                for h in self.hosts for f in [p["per_host"].get(h, {})]]

    def to_pandas(self) -> Any:
        """The output folder as a DataFrame (waits for the end): see :func:`read_output`."""
        self.wait()
        return read_output(self.out_dir)

    # -- control --------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Set the stop flag: every actor closes its open streams; the unsent rows are written ``not run``."""
        try:
            self._control.stop.remote()
            self._feeder.stop()
        except Exception:  # Ray is gone: nothing runs any more
            pass

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every block is written (True) or ``timeout`` passes (False). Ctrl-C stops the job."""
        try:
            return self._ended.wait(timeout)
        except KeyboardInterrupt:
            self.stop()
            self._ended.wait(30)
            raise

    def __await__(self) -> Any:
        return self._await().__await__()

    async def _await(self) -> RayJob:
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.wait)
        return self

    def __repr__(self) -> str:
        return f"<RayJob {self.model} → {self.out_dir} {self.progress().line()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))
