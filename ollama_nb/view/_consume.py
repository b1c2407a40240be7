"""Consume a reply into a view while keeping the kernel responsive to the Stop button.

Measured (see docs/stopping.md): a cell that blocks never sees a widget click. The cell must
*await*: on ipykernel >= 7 comm messages are handled while an async cell awaits; on ipykernel 6,
``jupyter-ui-poll`` processes pending UI events between awaits. The reply is read by a small task
that only collects chunks; every display write happens in the cell's own coroutine (writes from
another task can land on the wrong cell while ui-poll swaps the parent header).

Interrupt (kernel ■, Ctrl-C) stops the stream the same way as the button, keeps the partial reply,
and then raises :class:`Interrupted` so the cell ends as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Sequence, cast

from .._errors import Interrupted
from ..client import AsyncReply, Chunk, Reply
from ._protocol import ManyRepliesView, ReplyView

Poll = Callable[[int], Awaitable[None]]

#: Seconds the reading loop waits at most with nothing new: a view's refresh falls due between two
#: wakes, so it is late by up to this much (at 20 tokens/s a chunk comes only every 0.05 s). An idle
#: wake costs microseconds (measured: no wake later than 26 ms at 20 tokens/s on both kernel lines).
TICK = 0.02


def _ipykernel_major() -> int | None:
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        if kernel is None:
            return None
        import ipykernel

        return int(ipykernel.__version__.split(".")[0])
    except Exception:
        return None


@contextlib.asynccontextmanager
async def ui_poller() -> AsyncIterator[Poll | None]:
    """``poll(n)`` that processes pending widget events on ipykernel 6; None where not needed."""
    major = _ipykernel_major()
    if major is None or major >= 7:
        yield None
        return
    try:
        from jupyter_ui_poll import ui_events
    except ImportError:
        yield None
        return
    with _no_stray_idle():
        async with ui_events() as poll:
            yield poll


@contextlib.contextmanager
def _no_stray_idle() -> Iterator[None]:
    """While the cell polls, a queued request is dispatched (and held by jupyter-ui-poll); the
    kernel then publishes 'idle' with the *running* cell as parent, and front ends would show the
    kernel idle mid-stream. Drop exactly those messages (ipykernel 6 private API)."""
    from IPython import get_ipython

    kernel: Any = getattr(get_ipython(), "kernel", None)
    publish = getattr(kernel, "_publish_status", None)
    try:
        running = kernel.get_parent()["header"]["msg_id"]
    except Exception:
        running = None
    if publish is None or running is None:
        yield
        return

    def filtered(status: str, channel: str, parent: Any = None) -> Any:
        header = (parent if parent is not None else kernel.get_parent()).get("header", {})
        if status == "idle" and channel == "shell" and header.get("msg_id") == running:
            return None
        return publish(status, channel, parent)

    kernel._publish_status = filtered
    try:
        yield
    finally:
        del kernel._publish_status  # the class's method again


def clear_cancellation() -> None:
    """After catching the kernel's interrupt as a cancellation: let this task await again (the
    clean-up that follows) instead of being cancelled at its next await."""
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        while task.cancelling():  # type: ignore[union-attr]
            uncancel()


async def stream_async(reply: AsyncReply, view: ReplyView, *, poll: Poll | None = None, tick: float = TICK) -> None:
    """Read ``reply`` into ``view`` (awaiting, so the Stop button works); raise its error at the end.

    On interrupt or cancellation the stream is closed, the partial reply kept, and
    :class:`Interrupted` raised.
    """
    await stream_many_async([reply], view, poll=poll, tick=tick)


async def stream_many_async(
    replies: Sequence[AsyncReply], view: ReplyView | ManyRepliesView, *, poll: Poll | None = None, tick: float = TICK
) -> None:
    """Read replies into a view: one into a :class:`ReplyView`, several at once into a
    :class:`ManyRepliesView` (``view.add(chunks, index)`` gets each one's chunks).

    The first error among them is raised once every reply has ended.
    """
    pending: list[tuple[int, Chunk]] = []
    arrived = asyncio.Event()

    async def read(index: int, reply: AsyncReply) -> None:
        try:
            async for chunk in reply:
                pending.append((index, chunk))
                arrived.set()
        finally:
            arrived.set()

    loop = asyncio.get_running_loop()
    readers = [asyncio.ensure_future(read(i, r)) for i, r in enumerate(replies)]
    many = len(replies) > 1
    if many:
        cast(ManyRepliesView, view).reply = replies
    else:
        cast(ReplyView, view).reply = replies[0]
    interrupted = False

    def drain() -> None:
        if not pending:
            return
        batch = pending[:]
        del pending[:]
        if many:
            for index, chunk in batch:
                cast(ManyRepliesView, view).add((chunk,), index)
        else:
            cast(ReplyView, view).add([chunk for _, chunk in batch])

    try:
        while True:
            running = not all(r.done() for r in readers)
            if running:
                # wake at least every tick with nothing new, so a view's due refresh is never
                # late by more than that (its pauses stay short at a slow token rate; with a poll
                # too: jupyter-ui-poll answers the Stop button between wakes);
                # not asyncio.wait_for: on Python <= 3.11 it swallows a cancel (the kernel's
                # interrupt) that lands just as the wait ends; a timer that sets the event cannot
                wake = loop.call_later(tick, arrived.set)
                try:
                    await arrived.wait()
                finally:
                    wake.cancel()
                if poll is not None:
                    await poll(10)
            arrived.clear()
            drain()
            if not running and not pending:
                break
            view.refresh()
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
        clear_cancellation()
        for reply in replies:
            reply.stop()
        for reader in readers:
            with contextlib.suppress(BaseException):
                await reader
        drain()
    finally:
        for reply, reader in zip(replies, readers):
            if not reader.done():
                reply.stop()
                with contextlib.suppress(BaseException):
                    await reader
        if many:
            cast(ManyRepliesView, view).finish(replies)
        else:
            cast(ReplyView, view).finish(replies[0])
    if interrupted:
        raise Interrupted(replies[0])
    for reader in readers:
        if not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]


def stream_sync(reply: Reply, view: ReplyView) -> None:
    """Read ``reply`` into ``view`` without an event loop (terminal, nested cells, inside a def).

    The Stop button cannot work here (the cell blocks); interrupt (Ctrl-C / kernel ■) stops the
    stream, keeps the partial reply and raises :class:`Interrupted`.
    """
    view.reply = reply
    interrupted = False
    try:
        for chunk in reply:
            view.add((chunk,))
            view.refresh()
    except KeyboardInterrupt:
        interrupted = True
        reply.stop()
        reply.close()
    finally:
        if not reply.done:
            reply.close()
        view.finish(reply)
    if interrupted:
        raise Interrupted(reply)


def abort_held_requests(shell: Any) -> None:
    """After an error or interrupt in a cell that polled UI events (ipykernel 6 + jupyter-ui-poll):
    answer the execute requests held meanwhile 'aborted' and drop them, as a queued cell is.

    jupyter-ui-poll holds requests that arrive while the cell polls and replays them when it ends;
    after a failure they must not run. This uses private ui-poll and ipykernel 6 names, kept here
    beside :func:`ui_poller` (their owner); with another version it leaves ipykernel's own handling.
    """
    kernel: Any = getattr(shell, "kernel", None)
    try:
        from jupyter_ui_poll._poll import KernelWrapper

        content = kernel.get_parent().get("content", {})
        if not content.get("stop_on_error", True) or content.get("silent", False):
            return
        wrapper = KernelWrapper._current
        held = list(wrapper._events) if wrapper is not None else []
        for stream, ident, parent in held:
            kernel._send_abort_reply(stream, parent, ident)
            kernel._publish_status("idle", "shell", parent=parent)  # the front end's cell ends
        if wrapper is not None:
            wrapper._events.clear()
    except Exception:  # another ui-poll or kernel version: leave ipykernel's own handling
        return
