"""The prompt over a dataset on Ray Data: Parquet (or a DataFrame, or a Ray Dataset) in, Parquet out,
one actor per Ollama host, stoppable and resumable. Needs the ``ray`` extra
(``pip install 'ollama_nb[ray]'``); ``import ollama_nb`` never imports it.

- :func:`run` starts a job in the background and returns a :class:`RayJob`: ``progress()``,
  ``stop()`` (every open stream closed, the rest written ``not run``), ``wait()``, ``to_pandas()``.
  Running it again with the same output folder sends only the rows without an ``ok`` answer there.
- The first job starts one long-lived actor per host (:func:`start_hosts` starts them ahead); the
  next jobs of the same driver reuse them.
- ``job.record_to(session)`` writes the rows to the session's SQLite record (up to
  :data:`RECORD_ROWS` rows; above that the Parquet folder is the job's record).
- :func:`map` and :class:`Prompt` add the answer columns to a Ray Dataset of your own.
- Output columns: the input's, then ``answer``, ``parsed`` (JSON text), ``status`` (``ok``,
  ``error``, ``not run``), ``error``, ``host``, ``output_tokens``, ``ttft_s``, ``request_key``.

Example:
    >>> from ollama_nb import ray as onb_ray                                             # doctest: +SKIP
    >>> job = onb_ray.run("reviews.parquet", "Sentiment of: {item.text}", "out/",         # doctest: +SKIP
    ...                   model="llama3.2", hosts=["http://gpu1:11434", "http://gpu2:11434"])
    >>> job.wait(); job.to_pandas().status.value_counts()                                 # doctest: +SKIP
"""

from __future__ import annotations

try:
    import pyarrow as _pyarrow  # noqa: F401
    import ray as _ray  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("ollama_nb.ray needs the ray extra: pip install 'ollama_nb[ray]'.") from exc

from ._job import BLOCKS_PER_ACTOR, RayJobError, map, run, start_ray
from ._prompt import ANSWER_FIELDS, Prompt
from ._record import RECORD_ROWS
from ._results import RayJob, read_output
from ._worker import ACTOR_CPUS, start_hosts

__all__ = ["ACTOR_CPUS", "ANSWER_FIELDS", "BLOCKS_PER_ACTOR", "Prompt", "RECORD_ROWS", "RayJob", "RayJobError", "map",
           "read_output", "run", "start_hosts", "start_ray"]
