"""One prompt over many items: the batch that :meth:`Session.map`, :meth:`Session.amap` and
``%%ollama --over`` start.

Module map (read in this order):

- ``_batch``   :class:`Batch`: the items' requests, their results as they settle, what the caller
  reads (iteration, ``results``, ``progress()``, ``to_pandas()``) and control (``stop()``,
  ``retry_failed()``, ``wait()``); :func:`start_batch` builds and starts one.
- ``_runner``  the asyncio workers, a few per host, taking items from one queue. The runner sees
  the batch only through :class:`~ollama_nb.batch._runner.RunBatch` (``request_for``, ``settle``,
  ``settle_reply``, ``count_token``); retries are the client's, at most :data:`MAX_SENDS` per item.
- ``_items``   what a batch runs over (list, dict, Series, DataFrame), each item's prompt, and
  answers shaped like the input.
- ``_results`` :class:`ItemResult` per item and :class:`BatchProgress` snapshots.
- ``_ledger``  which items already have a finished answer (in memory and in the record).

Example:
    >>> from ollama_nb import Session
    >>> batch = Session(model="llama3.2").map("Is '{item}' positive?", ["great", "awful"])  # doctest: +SKIP
    >>> batch.answers()                                                                      # doctest: +SKIP
"""

from __future__ import annotations

from ._batch import DEFAULT_CONCURRENCY, Batch, start_batch
from ._items import items_of, render
from ._ledger import BatchLedger, ledger_of
from ._results import COLUMNS, BatchProgress, ItemResult, one_line, wait_or_stop
from ._runner import MAX_SENDS, HostState, WorkQueue

__all__ = [
    "COLUMNS",
    "DEFAULT_CONCURRENCY",
    "HostState",
    "MAX_SENDS",
    "Batch",
    "BatchLedger",
    "BatchProgress",
    "ItemResult",
    "WorkQueue",
    "items_of",
    "ledger_of",
    "one_line",
    "render",
    "start_batch",
    "wait_or_stop",
]
