"""One prompt over many items: :class:`Batch`, made by :meth:`Session.map` and :meth:`Session.amap`.

Every item is one ``/api/generate`` request, sent concurrently to one or several Ollama hosts
(``concurrency`` streams per host; see ``_runner``). Items are outside the conversation: the
session's history does not grow. An item's error never stops the batch; ``stop()`` closes every
open stream, keeps the finished answers and marks the rest ``not run``. Running the same batch
again sends only the items with no finished answer (``cache=False`` sends all).

Example:
    >>> batch = Session(model="llama3.2").map("Is '{item}' positive?", ["great", "awful"])  # doctest: +SKIP
    >>> for result in batch:                       # as they complete          # doctest: +SKIP
    ...     print(result.index, result.answer)
    >>> batch.to_pandas()                          # input order and index     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator, Mapping, Sequence, Union

from .._errors import OllamaError, StructuredOutputError
from ..client import GenerateRequest, resolve_host
from ._items import Items, items_of, render, shaped
from ._ledger import BatchLedger
from ._results import COLUMNS, BatchProgress, ItemResult, Status, gpu_seconds, one_line, wait_or_stop
from ._runner import Runner

if TYPE_CHECKING:
    from ..client import AsyncReply

#: An item's prompt, or the error its prompt function raised.
Prompt = Union[str, BaseException]

__all__ = ["DEFAULT_CONCURRENCY", "Batch", "start_batch"]

#: Streams per host: Ollama answers up to OLLAMA_NUM_PARALLEL requests per model at once (4 when
#: memory allows, else 1) and queues the rest, so 4 keeps a default server busy without a queue.
DEFAULT_CONCURRENCY = 4
_clock = time.perf_counter


class Batch:
    """A prompt over many items, running; see the module docstring.

    Iterate it (``for`` or ``async for``) for :class:`ItemResult` objects as they complete;
    ``results`` (input order) and :meth:`to_pandas` wait for the end when the batch runs in its
    own thread (``Session.map``); after ``await session.amap(...)`` use ``await batch``.
    """

    def __init__(self, items: Items, prompts: Sequence[Prompt], request: GenerateRequest, *, hosts: Sequence[str],
                 concurrency: int, ledger: BatchLedger | None, cache: bool,
                 carry: Mapping[int, ItemResult] | None = None) -> None:
        self.id = "batch-" + uuid.uuid4().hex[:10]
        self.items = items
        self.model = request.model
        self.format = request.format
        self.concurrency = concurrency
        self._request = request
        self._prompts = list(prompts)
        # an item whose prompt could not be made has no request: it fails alone, before anything is sent
        self._requests = [replace(request, prompt=p) if isinstance(p, str) else None for p in self._prompts]
        self._bodies = [r.body() if r is not None else {} for r in self._requests]
        self._results = [ItemResult(label, i, p if isinstance(p, str) else "")
                         for i, (label, p) in enumerate(zip(items.labels, self._prompts))]
        self._ledger = ledger
        self._cache = cache
        self._completed: list[int] = []
        self._counts = {"ok": 0, "error": 0, "not run": 0}
        self._sent_done = 0
        self._reused_count = 0
        self._tokens = 0
        self._changed = threading.Condition()
        self._finished = False
        self._news: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Future[None] | None = None
        self._t_start = _clock()
        self._t_end: float | None = None
        self._runner = Runner(self, list(hosts), concurrency)
        self._carry = dict(carry or {})

    # -- starting -------------------------------------------------------------------------------
    def _reuse(self) -> list[int]:
        """Settle the items that already have a finished answer; return the positions to send."""
        to_send = []
        for position, body in enumerate(self._bodies):
            prompt = self._prompts[position]
            if not isinstance(prompt, str):
                self._store(replace(self._results[position], status="error",
                                    error=f"the prompt could not be made: {one_line(prompt)}"))
                continue
            found = self._carry.get(position)
            if found is None and self._cache and self._ledger is not None:
                found = self._ledger.finished(body)
            result = self._reused(position, found) if found is not None else None
            if result is not None:
                self._store(result)
            else:
                to_send.append(position)
        return to_send

    def _reused(self, position: int, found: Any) -> ItemResult | None:
        """An earlier finished answer (an ItemResult, or a turn from the record) as this item's."""
        base = replace(self._results[position], reused=True)
        if isinstance(found, ItemResult):
            result = replace(found, index=base.index, position=position, reused=True)
        else:
            t = found.timing
            result = replace(base, status="ok", answer=found.text, host=found.host, ttft_s=t.ttft_s,
                             output_tokens=t.output_tokens, tokens_per_s=t.tokens_per_s, wall_s=t.wall_s,
                             gpu_s=gpu_seconds(t))
        if result.status != "ok":
            return None
        if self.format is not None and result.parsed is None:
            from .._structured import parse_json_reply

            try:
                result = replace(result, parsed=parse_json_reply(result.answer or ""))
            except StructuredOutputError:
                return None  # not the JSON asked for: ask again
        return result

    def _start_thread(self) -> Batch:
        def main() -> None:
            try:
                asyncio.run(self._run())
            except Exception as exc:  # nothing else would see it in this thread
                self._end(exc)
            finally:
                self._end()

        self._thread = threading.Thread(target=main, name=f"ollama_nb-{self.id}", daemon=True)
        self._thread.start()
        return self

    def _start_task(self) -> Batch:
        async def main() -> None:
            try:
                await self._run()
            except Exception as exc:
                self._end(exc)
            finally:
                self._end()

        self._task = asyncio.ensure_future(main())
        return self

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._news = asyncio.Event()
        self._t_start = _clock()
        if self._ledger is not None and self._runner.hosts:
            await self._ledger.learn_digest(self._runner.hosts[0].client, self.model)
        await self._runner.run(self._reuse())

    def _end(self, failure: Exception | None = None) -> None:
        """The run is over: any item still pending failed with ``failure`` (or did not run)."""
        if self._finished:
            return
        reason = f"the batch failed: {one_line(failure)}" if failure is not None else None
        for result in list(self._results):
            if result.status == "pending":
                self.settle(result.position, status="error" if reason else "not run", error=reason)
        with self._changed:
            self._finished = True
            self._t_end = _clock()
            self._changed.notify_all()
        if self._news is not None:
            self._news.set()

    # -- results as they are settled (called in the batch's loop) -----------------------------------
    def _store(self, result: ItemResult) -> None:
        with self._changed:
            self._results[result.position] = result
            self._completed.append(result.position)
            self._counts["error" if result.status == "error" else result.status] += 1
            if result.reused:
                self._reused_count += 1
            elif result.status != "not run":
                self._sent_done += 1
            self._changed.notify_all()
        if self._news is not None:
            self._news.set()

    # -- what the runner calls (its whole view of the batch) ------------------------------------------
    def request_for(self, position: int) -> GenerateRequest:
        """The request of item ``position`` (only items with a prompt are ever sent)."""
        request = self._requests[position]
        assert request is not None, "an item without a prompt is settled before the run"
        return request

    def is_pending(self, position: int) -> bool:
        """True while item ``position`` has not ended."""
        return self._results[position].status == "pending"

    def count_token(self) -> None:
        """One more token streamed, by any host (for the progress line)."""
        self._tokens += 1

    def settle(self, position: int, *, status: Status, error: str | None = None) -> None:
        """End item ``position`` without an answer (``error`` or ``not run``)."""
        self._store(replace(self._results[position], status=status, error=error))

    def settle_reply(self, position: int, reply: AsyncReply, error: OllamaError | None, host: str) -> ItemResult:
        """End item ``position`` with what ``reply`` streamed from ``host`` (or its ``error``)."""
        timing = reply.timing
        base = replace(self._results[position], host=host, ttft_s=timing.ttft_s,
                       output_tokens=timing.output_tokens, tokens_per_s=timing.tokens_per_s,
                       wall_s=timing.wall_s, gpu_s=gpu_seconds(timing))
        text = reply.partial_text()
        if error is not None:
            result = replace(base, status="error", error=one_line(error))
        else:
            result = replace(base, status="ok", answer=text)
            if self.format is not None:
                from .._structured import parse_json_reply

                try:
                    result = replace(result, parsed=parse_json_reply(text))
                except StructuredOutputError as exc:
                    result = replace(result, status="error", error=one_line(exc))
        if self._ledger is not None:
            self._ledger.add(self._bodies[position], result, reply, batch=self.id)
        self._store(result)
        return result


    # -- what the caller reads -----------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once every item has ended (finished, failed, or not run after a stop)."""
        return self._finished

    def __len__(self) -> int:
        return len(self._results)

    @property
    def results(self) -> list[ItemResult]:
        """One :class:`ItemResult` per item, in input order (waits for the end in a thread batch)."""
        if not self._in_batch_loop():
            self.wait()
        with self._changed:
            return list(self._results)

    def progress(self) -> BatchProgress:
        """Counts and rates now: done/total, ok/failed, items/s, tokens/s over all streams, ETA."""
        with self._changed:
            done, counts, sent, tokens = len(self._completed), dict(self._counts), self._sent_done, self._tokens
            reused = self._reused_count
        elapsed = (self._t_end or _clock()) - self._t_start
        items_rate = sent / elapsed if sent and elapsed > 0 else None
        remaining = len(self._results) - done
        return BatchProgress(
            total=len(self._results), done=done, ok=counts["ok"], failed=counts["error"], not_run=counts["not run"],
            tokens=tokens, elapsed_s=elapsed, items_per_s=items_rate,
            tokens_per_s=tokens / elapsed if tokens and elapsed > 0 else None,
            eta_s=remaining / items_rate if items_rate else None, finished=self._finished, reused=reused,
        )

    def host_figures(self) -> list[dict[str, Any]]:
        """Per host: whether it is still in rotation, items answered and failed, tokens, tokens/s."""
        elapsed = (self._t_end or _clock()) - self._t_start
        return [
            {
                "host": h.url,
                "in_rotation": h.in_rotation,
                "items": h.items,
                "failed": h.failed,
                "tokens": h.tokens,
                "tokens_per_s": h.tokens / elapsed if elapsed > 0 else None,
                "last_error": h.last_error,
            }
            for h in self._runner.hosts
        ]

    def latest(self, n: int = 5) -> list[ItemResult]:
        """The ``n`` most recently completed items, newest first (what a progress view shows)."""
        with self._changed:
            return [self._results[p] for p in reversed(self._completed[-n:])] if n > 0 else []

    def failed(self) -> list[ItemResult]:
        """The items that ended with an error."""
        return [r for r in self.results if r.status == "error"]

    def answers(self) -> Any:
        """The answers in input order, shaped like the input (a list, or a pandas Series with its
        index); the parsed objects when a ``format`` was asked; None for a failed or unrun item."""
        values = [
            (r.parsed if self.format is not None else r.answer) if r.status == "ok" else None for r in self.results
        ]
        return shaped(self.items, values)

    def to_pandas(self) -> Any:
        """A DataFrame with the input's index and the columns of :data:`COLUMNS`."""
        import pandas

        index = self.items.index if self.items.index is not None else pandas.Index(self.items.labels)
        return pandas.DataFrame([r.row() for r in self.results], index=index, columns=list(COLUMNS))

    # -- control -----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Close every open stream now (from any thread); keep the finished answers."""
        self._runner.stop()

    def retry_failed(self) -> Batch:
        """A new batch over the same items that sends only the failed and unrun ones again."""
        carry = {r.position: r for r in self.results if r.status == "ok"}
        again = Batch(
            self.items,
            self._prompts,
            self._request,
            hosts=self._runner.urls,
            concurrency=self.concurrency,
            ledger=self._ledger,
            cache=False,
            carry=carry,
        )
        return again._start_task() if self._task is not None and self._in_batch_loop() else again._start_thread()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the batch ends (True) or ``timeout`` passes (False). Ctrl-C stops it."""
        if self._in_batch_loop():
            raise RuntimeError("this batch runs in this event loop: use `await batch` instead of wait().")
        return wait_or_stop(self._changed, lambda: self._finished, self.stop, timeout)

    def __await__(self) -> Any:
        return self._await().__await__()

    async def _await(self) -> Batch:
        if self._task is not None:
            await asyncio.shield(self._task)
        else:
            await asyncio.get_running_loop().run_in_executor(None, self.wait)
        return self

    def _in_batch_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop and self._thread is None
        except RuntimeError:
            return False

    def __iter__(self) -> Iterator[ItemResult]:
        if self._in_batch_loop():
            raise RuntimeError("this batch runs in this event loop: use `async for result in batch`.")
        cursor = 0
        while True:
            try:
                with self._changed:
                    self._changed.wait_for(lambda: len(self._completed) > cursor or self._finished)
                    if len(self._completed) <= cursor:
                        return
                    result = self._results[self._completed[cursor]]
            except KeyboardInterrupt:
                self.stop()
                raise
            cursor += 1
            yield result

    async def __aiter__(self) -> AsyncIterator[ItemResult]:
        cursor = 0
        while True:
            if len(self._completed) > cursor:
                cursor += 1
                yield self._results[self._completed[cursor - 1]]
            elif self._finished:
                return
            elif self._task is not None and self._news is not None:
                self._news.clear()
                await self._news.wait()
            else:
                await asyncio.get_running_loop().run_in_executor(None, self._wait_news, cursor)

    def _wait_news(self, cursor: int) -> None:
        with self._changed:
            self._changed.wait_for(lambda: len(self._completed) > cursor or self._finished)

    def __repr__(self) -> str:
        return f"<Batch {self.model} {self.progress().line()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def start_batch(
    request: GenerateRequest,
    prompt: str | Callable[[Any], str],
    items: Any,
    *,
    in_loop: bool,
    default_host: str,
    ledger: BatchLedger | None,
    concurrency: int | None = None,
    hosts: Sequence[str] | str | None = None,
    cache: bool = True,
    namespace: Mapping[str, Any] | None = None,
) -> Batch:
    """Start ``request`` (its prompt filled in per item) over ``items``: in this loop, or in a
    thread of its own. :meth:`Session.map` and ``%%ollama --over`` build ``request`` as
    :meth:`Session.generate` does, with :meth:`Session.request_template`."""
    found = items_of(items)
    prompts = [
        _prompt_or_error(prompt, value, label, namespace or {}) for value, label in zip(found.values, found.labels)
    ]
    if isinstance(hosts, str):
        hosts = [h for h in hosts.split(",") if h.strip()]
    urls = list(dict.fromkeys(resolve_host(h.strip()) for h in hosts)) if hosts else [default_host]
    limit = int(concurrency) if concurrency is not None else DEFAULT_CONCURRENCY
    if limit < 1:
        raise ValueError("concurrency must be 1 or more.")
    batch = Batch(found, prompts, request, hosts=urls, concurrency=limit, ledger=ledger, cache=cache)
    return batch._start_task() if in_loop else batch._start_thread()


def _prompt_or_error(prompt: str | Callable[[Any], str], item: Any, label: Any, namespace: Mapping[str, Any]) -> Prompt:
    """The item's prompt, or the error that making it raised (that item fails alone)."""
    try:
        return render(prompt, item, label, namespace)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if not callable(prompt):
            raise  # a template that does not fit is the caller's mistake, for every item alike
        return exc
