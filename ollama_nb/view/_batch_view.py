"""What a person sees while a batch runs: one progress row with a Stop button, the last few
answers, and at the end a one-line summary with the per-host figures.

tqdm's throttle: the core counts items and tokens; the view redraws only when ``interval`` has
passed (never per token or per item) and always once at the end. In a kernel the progress is one
display output updated in place (saved in the notebook, shown headless too) and the Stop button
is a widget closed at the end; in a terminal a text line is rewritten on stdout.

Example:
    >>> view = BatchView(batch, on_stop=batch.stop)     # doctest: +SKIP
    >>> watch_batch_sync(batch, view)                     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import time
from typing import Any, Callable

from .._errors import Interrupted
from .._safe import SafeMarkdown
from ..batch import Batch
from ._consume import Poll, clear_cancellation
from ._controls import Controls, widgets_available
from ._outputs import markdown_bundle
from ._tables import markdown_table

__all__ = ["BatchView", "batch_interrupted", "watch_batch_async", "watch_batch_sync"]

#: Seconds between redraws (tqdm's ``mininterval``); the view never redraws faster.
DEFAULT_INTERVAL = 0.5
#: How many of the latest answers the table shows, and how much of each.
LAST_ANSWERS = 5
PREVIEW_CHARS = 80


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython

        return getattr(get_ipython(), "kernel", None) is not None
    except Exception:
        return False


def _preview(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


class BatchView:
    """The progress of one batch (see the module docstring); ``clock`` is injectable for tests."""

    def __init__(self, batch: Batch, *, on_stop: Callable[[], None] | None = None, interval: float = DEFAULT_INTERVAL,
                 clock: Callable[[], float] = time.monotonic, kernel: bool | None = None) -> None:
        self.batch = batch
        self.interval = interval
        self.clock = clock
        self.kernel = _in_kernel() if kernel is None else kernel
        self.redraws = 0
        self._shown_at: float | None = None
        self._controls: Controls | None = None
        self._handle: Any = None
        if self.kernel:
            from IPython.display import display

            if on_stop is not None and widgets_available():
                self._controls = Controls(on_stop, label="Stop")
            self._handle = display(self._bundle(), raw=True, display_id=True)
            self._shown_at = clock()

    # -- what is drawn -----------------------------------------------------------------------------
    def _latest(self) -> SafeMarkdown:
        """The last few answers (model text shown as text: never markup)."""
        rows = [
            {"item": SafeMarkdown.text(_preview(str(r.index))), "status": SafeMarkdown.text(r.status),
             "answer": SafeMarkdown.text(_preview(r.answer if r.status == "ok" else r.error))}
            for r in self.batch.latest(LAST_ANSWERS)
        ]
        return markdown_table(rows, ["item", "status", "answer"]) if rows else SafeMarkdown.trusted("")

    def _hosts(self) -> SafeMarkdown:
        rows = [
            {
                "host": SafeMarkdown.text(f["host"]),
                "items": f["items"],
                "failed": f["failed"],
                "tok/s": f["tokens_per_s"],
                "in rotation": SafeMarkdown.text("yes" if f["in_rotation"] else "no: " + _preview(f["last_error"])),
            }
            for f in self.batch.host_figures()
        ]
        return markdown_table(rows, ["host", "items", "failed", "tok/s", "in rotation"])

    def _bundle(self, outcome: str | None = None) -> dict[str, str]:
        """The progress row while running; the summary and per-host figures once ``outcome`` is known."""
        line = self.batch.progress().line()
        model = SafeMarkdown.text(self.batch.model)
        if outcome is None:
            latest = self._latest()
            markdown = SafeMarkdown.trusted("**{}** · {}").format(model, SafeMarkdown.text(line))
            if latest:
                markdown = SafeMarkdown.trusted("{}\n\n{}").format(markdown, latest)
            return markdown_bundle(markdown, line)
        head = f"{self.batch.model} over {len(self.batch)} items — {outcome}"
        markdown = SafeMarkdown.trusted("**{}:** {}\n\n{}").format(
            SafeMarkdown.text(head), SafeMarkdown.text(line), self._hosts()
        )
        return markdown_bundle(markdown, f"{head}: {line}")

    # -- updates ------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw if ``interval`` has passed since the last redraw."""
        now = self.clock()
        if self._shown_at is not None and now - self._shown_at < self.interval:
            return
        self._shown_at = now
        self.redraws += 1
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)
        elif not self.kernel:
            sys.stdout.write("\r" + self.batch.progress().line() + "   ")
            sys.stdout.flush()

    def finish(self, outcome: str) -> None:
        """The last redraw: show the summary and the per-host figures, then close the Stop button.

        In that order: VS Code's Jupyter extension applies an update that changes an output's metadata by
        rewriting all of the cell's outputs from a snapshot, which would bring back a Stop button closed just before.
        """
        bundle = self._bundle(outcome)
        if self._handle is not None:
            self._handle.update(
                bundle, raw=True, metadata={"ollama_nb": {"batch": dataclasses.asdict(self.batch.progress())}}
            )
        else:
            sys.stdout.write("\r" + bundle["text/plain"] + "\n")
            sys.stdout.flush()
        if self._controls is not None:
            self._controls.close()
            self._controls = None


def _outcome(batch: Batch, interrupted: bool) -> str:
    progress = batch.progress()
    if interrupted:
        return "interrupted"
    if progress.not_run:
        return "stopped"
    return "done" if not progress.failed else "done with errors"


def batch_interrupted(batch: Batch) -> Interrupted:
    """The one-line error a cell ends with when a batch was interrupted."""
    p = batch.progress()
    return Interrupted(
        what="the batch",
        detail=f"stopped: {p.ok} finished answers are kept, {p.not_run} items did not run",
        hint="Run the cell again: only the items without a finished answer are sent.",
    )


async def watch_batch_async(batch: Batch, view: BatchView, *, poll: Poll | None = None, tick: float = 0.1) -> None:
    """Redraw ``view`` until ``batch`` ends, awaiting (so the Stop button works); an interrupt
    stops the batch (every open stream closed, finished answers kept) and raises :class:`Interrupted`."""
    interrupted = False
    try:
        while not batch.done:
            await asyncio.sleep(0.02 if poll is not None else tick)
            if poll is not None:
                await poll(10)
            view.refresh()
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
        clear_cancellation()
        batch.stop()
        with contextlib.suppress(BaseException):
            await batch
    finally:
        if not batch.done:
            batch.stop()
            with contextlib.suppress(BaseException):
                await batch
        view.finish(_outcome(batch, interrupted))
    if interrupted:
        raise batch_interrupted(batch)


def watch_batch_sync(batch: Batch, view: BatchView, *, tick: float = 0.1) -> None:
    """The blocking twin (terminal, nested cells): Ctrl-C stops the batch and raises :class:`Interrupted`."""
    interrupted = False
    try:
        while not batch.wait(tick):
            view.refresh()
    except KeyboardInterrupt:
        interrupted = True
        batch.stop()
        batch.wait(10)
    finally:
        view.finish(_outcome(batch, interrupted))
    if interrupted:
        raise batch_interrupted(batch)
