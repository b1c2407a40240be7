"""Embedding many texts: ``batch_size`` texts per ``/api/embed`` request, spread over hosts.

The policy is the batch's (``Session.map``): each host gets ``concurrency`` workers taking the next
chunk from one shared queue, so a faster host takes more. A 503 "server busy" or a dropped connection
puts the chunk back after a backoff; a host that cannot be reached leaves the rotation and its chunks
go to the others; any other error (a model that cannot embed, an input too long) ends the job and is
raised by :meth:`EmbedJob.result`. ``stop()`` cancels the open requests at once; finished chunks are
kept (``on_chunk`` has seen them, so the record has them).

The job has the batch's progress interface (``progress``, ``latest``, ``host_figures``, ``done``,
``wait``, ``stop``, ``await``), so the batch's progress row and Stop button show it.

Example:
    >>> job = EmbedJob("all-minilm", ["a", "b", "c"], hosts=["http://127.0.0.1:11434"], batch_size=2)
    >>> [len(chunk) for chunk in job.chunks]
    [2, 1]
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from .._errors import ConnectionLostError, OllamaConnectionError, OllamaError, ServerBusyError
from ..batch import BatchProgress, HostState, ItemResult, WorkQueue, one_line, wait_or_stop
from ..client import AsyncClient

__all__ = ["DEFAULT_CONCURRENCY", "EmbedJob"]

#: How many times one chunk is sent before its error stands (503s and dropped connections).
MAX_ATTEMPTS = 4
BACKOFF_S = 0.25
BACKOFF_CAP_S = 4.0
#: Requests open per host. Ollama runs an embedding model one request at a time (parallel 1), so the
#: second only waits in its queue; it is there so the next chunk is ready while this one is read.
DEFAULT_CONCURRENCY = 2

OnChunk = Callable[[Sequence[str], list[list[float]]], None]


class EmbedJob:
    """Embeds ``texts`` (already unique, none cached) in chunks; see the module docstring."""

    def __init__(self, model: str, texts: Sequence[str], *, hosts: Sequence[str], batch_size: int = 64,
                 concurrency: int = DEFAULT_CONCURRENCY, params: Mapping[str, Any] | None = None,
                 on_chunk: OnChunk | None = None, reused: int = 0) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be 1 or more.")
        if not hosts:
            raise ValueError("embed() needs at least one host.")
        self.model = model
        self.chunks = [list(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
        self.hosts = [HostState(url) for url in hosts]
        self.concurrency = max(1, concurrency)
        self.params = dict(params or {})
        self.on_chunk = on_chunk
        self.reused = reused
        self.error: OllamaError | None = None
        self.stopped = False
        self._queue = WorkQueue(range(len(self.chunks)))
        self._attempts: dict[int, int] = {}
        self._finished_chunks: list[int] = []
        self._sent = 0
        self._tokens = 0
        self._changed = threading.Condition()
        self._finished = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._t_start = time.perf_counter()
        self._t_end: float | None = None

    # -- running ------------------------------------------------------------------------------------
    def start(self) -> EmbedJob:
        """Run in a thread of its own (its own event loop); returns self."""
        def main() -> None:
            try:
                asyncio.run(self._run())
            except BaseException as exc:  # nothing else would see it in this thread
                self.error = self.error or OllamaError(f"the embedding job failed: {one_line(exc)}")
            finally:
                self._end()

        threading.Thread(target=main, name="ollama_nb-embed", daemon=True).start()
        return self

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._t_start = time.perf_counter()
        clients = [AsyncClient(host.url) for host in self.hosts]
        try:
            self._tasks = [asyncio.ensure_future(self._worker(host, client))
                           for host, client in zip(self.hosts, clients) for _ in range(self.concurrency)]
            if self.stopped:
                self._cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            for client in clients:
                try:
                    await client.aclose()
                except Exception:
                    pass
        if self._queue and self.error is None and not self.stopped:
            last = next((h.last_error for h in reversed(self.hosts) if h.last_error), "no host")
            self.error = OllamaError(f"no Ollama host answered the embedding requests (last: {last}).")

    def _end(self) -> None:
        with self._changed:
            self._finished = True
            self._t_end = time.perf_counter()
            self._changed.notify_all()

    async def _worker(self, host: HostState, client: AsyncClient) -> None:
        def go_on() -> bool:
            return host.in_rotation and self.error is None and not self.stopped

        while (index := await self._queue.take(go_on)) is not None:
            try:
                await self._send(host, client, index)
            except asyncio.CancelledError:
                raise
            except OllamaError as exc:
                host.failed += 1
                host.last_error = one_line(exc)
                self.error = self.error or exc
                self._cancel()
            except Exception as exc:  # anything unforeseen ends the job with a readable error
                failure = f"{type(exc).__name__}: {one_line(exc)}"
                self.error = self.error or OllamaError(f"the embedding job failed: {failure}")
                self._cancel()
            finally:
                self._queue.done()

    async def _send(self, host: HostState, client: AsyncClient, index: int) -> None:
        chunk = self.chunks[index]
        self._attempts[index] = attempt = self._attempts.get(index, 0) + 1
        try:
            answer = await client.embed(self.model, chunk, **self.params)
        except OllamaConnectionError as exc:  # nothing answers there (after the client's retries)
            host.in_rotation = False
            host.last_error = one_line(exc)
            self._queue.put_back(index)
            return
        except (ServerBusyError, ConnectionLostError) as exc:
            if attempt >= MAX_ATTEMPTS:
                raise
            host.last_error = one_line(exc)
            await asyncio.sleep(min(BACKOFF_S * 2 ** (attempt - 1), BACKOFF_CAP_S))
            self._queue.put_back(index)
            return
        if self.on_chunk is not None:
            self.on_chunk(chunk, answer.vectors)
        host.items += len(chunk)
        host.tokens += answer.prompt_eval_count or 0
        with self._changed:
            self._finished_chunks.append(index)
            self._sent += len(chunk)
            self._tokens += answer.prompt_eval_count or 0
            self._changed.notify_all()

    def _cancel(self) -> None:
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()

    # -- control --------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel the open requests now (from any thread); finished chunks are kept."""
        self.stopped = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._cancel)
            except RuntimeError:  # the loop closed meanwhile
                pass

    @property
    def done(self) -> bool:
        """Whether the job has ended (finished, failed or stopped)."""
        return self._finished

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (True) or ``timeout`` passes (False). Ctrl-C stops it."""
        return wait_or_stop(self._changed, lambda: self._finished, self.stop, timeout)

    def __await__(self) -> Any:
        return self._await().__await__()

    async def _await(self) -> EmbedJob:
        while not self._finished:
            await asyncio.sleep(0.02)
        return self

    # -- what a progress view reads -------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self.chunks) + self.reused

    def progress(self) -> BatchProgress:
        """Texts embedded so far (cached ones count as reused), texts/s, prompt tokens/s, ETA."""
        with self._changed:
            sent, tokens, finished = self._sent, self._tokens, self._finished
        elapsed = (self._t_end or time.perf_counter()) - self._t_start
        rate = sent / elapsed if sent and elapsed > 0 else None
        total = len(self)
        not_run = total - sent - self.reused if finished and (self.stopped or self.error) else 0
        return BatchProgress(
            total=total, done=sent + self.reused + not_run, ok=sent + self.reused, failed=0, not_run=not_run,
            tokens=tokens, elapsed_s=elapsed, items_per_s=rate,
            tokens_per_s=tokens / elapsed if tokens and elapsed > 0 else None,
            eta_s=(total - sent - self.reused) / rate if rate else None, finished=finished, reused=self.reused)

    def latest(self, n: int = 5) -> list[ItemResult]:
        """The last ``n`` finished requests, newest first, as rows of the progress view."""
        with self._changed:
            recent = list(reversed(self._finished_chunks[-n:])) if n > 0 else []
        rows = []
        for index in recent:
            chunk = self.chunks[index]
            answer = f"{len(chunk)} vectors: {chunk[0][:40]}…"
            rows.append(ItemResult(f"request {index + 1}", index, "", answer=answer, status="ok"))
        return rows

    def host_figures(self) -> list[dict[str, Any]]:
        """Per host: in rotation, texts embedded, failures, prompt tokens and tokens/s."""
        elapsed = (self._t_end or time.perf_counter()) - self._t_start
        return [{"host": h.url, "in_rotation": h.in_rotation, "items": h.items, "failed": h.failed, "tokens": h.tokens,
                 "tokens_per_s": h.tokens / elapsed if elapsed > 0 else None, "last_error": h.last_error}
                for h in self.hosts]
