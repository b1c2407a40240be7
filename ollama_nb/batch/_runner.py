"""The asyncio side of a batch: a few workers per host take items from one shared queue.

No home-made scheduler: each host gets ``concurrency`` worker tasks (so a host never has more
streams open than that), every worker takes the next item from one ``deque``, and each result is
placed by the item's input position. A faster host simply takes more items.

- One retry policy, the client's: a 503 "server busy" or 429, or a connection refused before the
  answer starts, is retried by :class:`~ollama_nb.AsyncClient` with its backoff. An item is sent
  at most :data:`MAX_SENDS` times in all, whatever happens: the runner gives each new send only the
  retries left (counted by the reply's ``sends``).
- A connection that drops during the answer puts the item back in the queue (the partial text is
  thrown away: answers are never mixed) while sends are left.
- A host that cannot be reached (after the client's own retries) leaves the rotation; its items
  go to the others. When no host is left, the remaining items fail with that host's error.
- Any other error ends that item only (an in-band error line, a 404 model, invalid JSON).
- ``stop()`` closes every open stream (``AsyncReply.stop``: the server sees the close at once);
  workers then end and what was not finished is marked ``not run``.

The runner sees the batch only through :class:`RunBatch`: the request of an item, and settling it.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .._errors import ConnectionLostError, OllamaConnectionError, OllamaError
from ..client import AsyncClient
from ._results import ItemResult, Status, one_line

if TYPE_CHECKING:
    from ..client import AsyncReply, GenerateRequest

__all__ = ["MAX_SENDS", "HostState", "RunBatch", "Runner", "WorkQueue"]

#: How many times one item is sent in all (503/429 retries, dropped connections, every layer).
MAX_SENDS = 4
#: The longest pause before an item whose connection dropped is sent again (seconds).
BACKOFF_CAP_S = 4.0


def reply_backoff(host: HostState) -> float:
    """The client's backoff: a dropped item waits as a retried request would."""
    return host.client.backoff


class RunBatch(Protocol):
    """What the runner needs of a batch (``Batch`` is one)."""

    def request_for(self, position: int) -> GenerateRequest: ...
    def is_pending(self, position: int) -> bool: ...
    def count_token(self) -> None: ...
    def settle(self, position: int, *, status: Status, error: str | None = None) -> None: ...
    def settle_reply(self, position: int, reply: AsyncReply, error: OllamaError | None, host: str) -> ItemResult: ...


class WorkQueue:
    """Positions waiting to be sent, shared by a pool of asyncio workers; a position may come back.

    A worker asks for the next position with :meth:`take`, which waits while others still have
    positions in flight (one of them may be put back) and answers ``None`` when there is nothing
    left to do, or when ``go_on()`` turns false.

    Example:
        >>> queue = WorkQueue([0, 1])
        >>> async def worker():
        ...     while (position := await queue.take(lambda: True)) is not None:
        ...         try:
        ...             ...  # send it; queue.put_back(position) to try again
        ...         finally:
        ...             queue.done()
    """

    def __init__(self, positions: Iterable[int] = ()) -> None:
        self.waiting: collections.deque[int] = collections.deque(positions)
        self.in_flight = 0
        self._changed: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self.waiting)

    async def take(self, go_on: Callable[[], bool]) -> int | None:
        """The next position (now in flight), or ``None`` when there is no more work for this worker."""
        if self._changed is None:
            self._changed = asyncio.Event()
        while go_on():
            if self.waiting:
                self.in_flight += 1
                return self.waiting.popleft()
            if self.in_flight == 0:
                return None
            self._changed.clear()
            await self._changed.wait()  # a position may come back
        return None

    def done(self) -> None:
        """The position taken last by a worker has ended (settled, failed or put back)."""
        self.in_flight -= 1
        self.wake()

    def put_back(self, position: int) -> None:
        """Send ``position`` again, before the others (it has waited already)."""
        self.waiting.appendleft(position)
        self.wake()

    def wake(self) -> None:
        """Let waiting workers look again (after a stop, or when work came back)."""
        if self._changed is not None:
            self._changed.set()


@dataclass
class HostState:
    """One Ollama host of a batch and what it has done so far."""

    url: str
    in_rotation: bool = True
    items: int = 0
    failed: int = 0
    tokens: int = 0
    last_error: str | None = None
    open_replies: set[AsyncReply] = field(default_factory=set)
    clients: dict[int, AsyncClient] = field(default_factory=dict)

    @property
    def client(self) -> AsyncClient:
        """The host's client with the full retry budget (what other requests use)."""
        return self.client_with(MAX_SENDS - 1)

    def client_with(self, retries: int) -> AsyncClient:
        """The host's client that retries at most ``retries`` times (one per budget, made on first use)."""
        client = self.clients.get(retries)
        if client is None:
            client = self.clients[retries] = AsyncClient(self.url, retries=retries)
        return client


class Runner:
    """Runs one :class:`~ollama_nb.Batch` in the event loop it is started in."""

    def __init__(self, batch: RunBatch, hosts: list[str], concurrency: int) -> None:
        self.batch = batch
        self.hosts = [HostState(url) for url in hosts]
        self.concurrency = concurrency
        self.queue = WorkQueue()
        self.sends: dict[int, int] = {}
        self.stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None

    # -- the whole run ------------------------------------------------------------------------------
    async def run(self, positions: list[int]) -> None:
        """Send every position in ``positions``; return when all have ended or the batch stopped."""
        self.loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self.queue.waiting.extend(positions)
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
                for client in host.clients.values():
                    try:
                        await client.aclose()
                    except Exception:
                        pass

    def _settle_leftovers(self) -> None:
        alive = [h for h in self.hosts if h.in_rotation]
        reason = None
        if not alive and not self.stopping:
            last = self.hosts[-1] if self.hosts else None
            reason = f"no host answered (last: {last.last_error})" if last is not None else "no host"
        while self.queue.waiting:
            position = self.queue.waiting.popleft()
            if reason is not None:
                self.batch.settle(position, status="error", error=reason)
            else:
                self.batch.settle(position, status="not run")

    @property
    def urls(self) -> list[str]:
        """The hosts' URLs, in the order given."""
        return [host.url for host in self.hosts]

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
        self.queue.wake()

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
        def go_on() -> bool:
            return not self.stopping and host.in_rotation

        while (position := await self.queue.take(go_on)) is not None:
            try:
                await self._send(host, position)
            except Exception as exc:  # anything unforeseen ends this item, never the batch
                if self.batch.is_pending(position):
                    self.batch.settle(position, status="error", error=f"{type(exc).__name__}: {one_line(exc)}")
            finally:
                self.queue.done()

    async def _send(self, host: HostState, position: int) -> None:
        batch = self.batch
        used = self.sends.get(position, 0)
        reply = host.client_with(MAX_SENDS - 1 - used).reply(batch.request_for(position))
        host.open_replies.add(reply)
        try:
            async for chunk in reply:
                if chunk.content or chunk.thinking:
                    host.tokens += 1
                    batch.count_token()
        except OllamaConnectionError as exc:  # nothing answers there (after the client's retries)
            # a refused connection sent nothing: it costs the item no send, and the host leaves the rotation
            host.in_rotation = False
            host.last_error = one_line(exc)
            self._again(position)
            return
        except ConnectionLostError as exc:
            self.sends[position] = used + max(reply.sends, 1)
            if self.sends[position] < MAX_SENDS and not self.stopping:
                host.last_error = one_line(exc)
                await self._pause(min(reply_backoff(host) * 2 ** (self.sends[position] - 1), BACKOFF_CAP_S))
                self._again(position)
                return
            self._finish(host, position, reply, exc)
            return
        except OllamaError as exc:
            self._finish(host, position, reply, exc)
            return
        finally:
            host.open_replies.discard(reply)
        self._finish(host, position, reply, None)

    def _again(self, position: int) -> None:
        """Put an item back for any host in rotation (at the front: it has waited already)."""
        if self.stopping:
            self.batch.settle(position, status="not run")
            return
        self.queue.put_back(position)

    def _finish(self, host: HostState, position: int, reply: AsyncReply, error: OllamaError | None) -> None:
        if reply.stopped and error is None and self.stopping:
            self.batch.settle(position, status="not run")
            return
        host.items += 1
        result = self.batch.settle_reply(position, reply, error, host.url)
        if result.status != "ok":
            host.failed += 1
