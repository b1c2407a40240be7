"""The asyncio side of a batch: a few workers per host take items from one shared queue.

No home-made scheduler: each host gets ``concurrency`` worker tasks (so a host never has more
streams open than that), every worker takes the next item from one ``deque``, and each result is
placed by the item's input position. A faster host simply takes more items.

- A 503 "server busy", or a connection that drops before or during the answer, puts the item
  back in the queue after a backoff (the partial text is thrown away: answers are never mixed).
- A host that cannot be reached (after the client's own retries) leaves the rotation; its items
  go to the others. When no host is left, the remaining items fail with that host's error.
- Any other error ends that item only (an in-band error line, a 404 model, invalid JSON).
- ``stop()`` closes every open stream (``AsyncReply.stop``: the server sees the close at once);
  workers then end and what was not finished is marked ``not run``.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ._batch_results import one_line
from ._client import AsyncClient
from ._errors import ConnectionLostError, OllamaConnectionError, OllamaError, ResponseError

if TYPE_CHECKING:
    from ._batch import Batch

__all__ = ["HostState", "Runner"]

#: How many times one item is sent before its error stands (503s and dropped connections).
MAX_ATTEMPTS = 4
#: Seconds before an item that met a 503 or a dropped connection is sent again (doubles, capped).
BACKOFF_S = 0.25
BACKOFF_CAP_S = 4.0


@dataclass
class HostState:
    """One Ollama host of a batch and what it has done so far."""

    url: str
    client: AsyncClient
    in_rotation: bool = True
    items: int = 0
    failed: int = 0
    tokens: int = 0
    last_error: str | None = None
    open_replies: set[Any] = field(default_factory=set)


class Runner:
    """Runs one :class:`~ollama_nb.Batch` in the event loop it is started in."""

    def __init__(self, batch: Batch, hosts: list[str], concurrency: int) -> None:
        self.batch = batch
        self.hosts = [HostState(url, AsyncClient(url)) for url in hosts]
        self.concurrency = concurrency
        self.queue: collections.deque[int] = collections.deque()
        self.attempts: dict[int, int] = {}
        self.in_flight = 0
        self.stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._stop_event: asyncio.Event | None = None

    # -- the whole run ------------------------------------------------------------------------------
    async def run(self, positions: list[int]) -> None:
        """Send every position in ``positions``; return when all have ended or the batch stopped."""
        self.loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._stop_event = asyncio.Event()
        self.queue.extend(positions)
        if self.stopping:  # stopped before the loop started
            self._stop_in_loop()
        workers = [
            asyncio.ensure_future(self._worker(host)) for host in self.hosts for _ in range(self.concurrency)
        ]
        try:
            await asyncio.gather(*workers, return_exceptions=True)
        finally:
            for worker in workers:  # a cancelled run (the caller's task) stops its streams too
                if not worker.done():
                    self.stopping = True
                    worker.cancel()
            for worker in workers:
                if not worker.done():
                    try:
                        await worker
                    except BaseException:
                        pass
            self._settle_leftovers()
            for host in self.hosts:
                try:
                    await host.client.aclose()
                except Exception:
                    pass

    def _settle_leftovers(self) -> None:
        alive = [h for h in self.hosts if h.in_rotation]
        reason = None
        if not alive and not self.stopping:
            last = self.hosts[-1] if self.hosts else None
            reason = f"no host answered (last: {last.last_error})" if last is not None else "no host"
        while self.queue:
            position = self.queue.popleft()
            if reason is not None:
                self.batch._settle(position, status="error", error=reason)
            else:
                self.batch._settle(position, status="not run")

    # -- stopping -----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop from any thread: close every open stream, send nothing more."""
        self.stopping = True
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._stop_in_loop()
        else:
            loop.call_soon_threadsafe(self._stop_in_loop)

    def _stop_in_loop(self) -> None:
        self.stopping = True
        for host in self.hosts:
            for reply in list(host.open_replies):
                reply.stop()
        if self._stop_event is not None:
            self._stop_event.set()
        self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the batch is stopped meanwhile."""
        assert self._stop_event is not None
        waiter = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    # -- workers ------------------------------------------------------------------------------------
    async def _worker(self, host: HostState) -> None:
        assert self._changed is not None
        while not self.stopping and host.in_rotation:
            if not self.queue:
                if self.in_flight == 0:
                    return
                self._changed.clear()
                await self._changed.wait()  # an item may come back to the queue
                continue
            position = self.queue.popleft()
            self.in_flight += 1
            try:
                await self._send(host, position)
            except Exception as exc:  # anything unforeseen ends this item, never the batch
                if self.batch._is_pending(position):
                    self.batch._settle(position, status="error", error=f"{type(exc).__name__}: {one_line(exc)}")
            finally:
                self.in_flight -= 1
                self._wake()

    async def _send(self, host: HostState, position: int) -> None:
        batch = self.batch
        body = batch._bodies[position]
        self.attempts[position] = attempt = self.attempts.get(position, 0) + 1
        reply = host.client.reply(batch._requests[position])
        host.open_replies.add(reply)
        try:
            async for chunk in reply:
                if chunk.content or chunk.thinking:
                    host.tokens += 1
                    batch._tokens += 1
        except OllamaConnectionError as exc:  # nothing answers there (after the client's retries)
            host.in_rotation = False
            host.last_error = one_line(exc)
            self._again(position)
            return
        except (ResponseError, ConnectionLostError) as exc:
            busy = isinstance(exc, ResponseError) and exc.status_code == 503
            if (busy or isinstance(exc, ConnectionLostError)) and attempt < MAX_ATTEMPTS and not self.stopping:
                host.last_error = one_line(exc)
                await self._pause(min(BACKOFF_S * 2 ** (attempt - 1), BACKOFF_CAP_S))
                self._again(position)
                return
            self._finish(host, position, body, reply, exc)
            return
        except OllamaError as exc:
            self._finish(host, position, body, reply, exc)
            return
        finally:
            host.open_replies.discard(reply)
        self._finish(host, position, body, reply, None)

    def _again(self, position: int) -> None:
        """Put an item back for any host in rotation (at the front: it has waited already)."""
        if self.stopping:
            self.batch._settle(position, status="not run")
            return
        self.queue.appendleft(position)
        self._wake()

    def _finish(self, host: HostState, position: int, body: Mapping[str, Any], reply: Any, error: OllamaError | None) -> None:
        if reply.stopped and error is None and self.stopping:
            self.batch._settle(position, status="not run")
            return
        host.items += 1
        result = self.batch._settle_reply(position, reply, error, host.url)
        if result.status != "ok":
            host.failed += 1
