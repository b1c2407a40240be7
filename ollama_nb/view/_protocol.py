"""What the reading loop and the magics ask of a view: a small protocol, as tqdm splits std/notebook.

tqdm's core (``tqdm.std``) owns the counting and calls a few display hooks that ``tqdm.notebook``
overrides. Here the reading loop (``ollama_nb.view.stream_sync``/``stream_many_async``) owns the
stream and the interrupt, and calls these methods; ``ollama_nb.view`` implements them for a
Jupyter cell (``StreamView``, ``SideBySideView``) and for a terminal (``PlainView``). Nothing here
imports Jupyter, so a test can implement the protocol in plain Python.

Example:
    >>> class Collect:
    ...     reply = None
    ...     def __init__(self): self.text = []
    ...     def add(self, chunks): self.text += [c.content for c in chunks]
    ...     def refresh(self, *, force=False): return True
    ...     def finish(self, reply): self.reply = reply
    >>> isinstance(Collect(), ReplyView)
    True
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from ..client import BaseReply, Chunk

__all__ = ["ManyRepliesView", "ReplyView"]


@runtime_checkable
class ReplyView(Protocol):
    """Shows one streaming reply: chunks as they come, redraws when due, a final state."""

    #: The reply being shown (set by the reading loop when it starts).
    reply: BaseReply | None

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Take new chunks (cheap; drawing waits for :meth:`refresh`)."""

    def refresh(self, *, force: bool = False) -> bool:
        """Redraw if due (throttled like tqdm's ``mininterval``); True if something was sent."""

    def finish(self, reply: BaseReply) -> None:
        """The stream ended (done, stopped or failed): the final flush."""


@runtime_checkable
class ManyRepliesView(Protocol):
    """Shows several replies at once (one prompt, several models)."""

    reply: Sequence[BaseReply] | None

    def add(self, chunks: Sequence[Chunk], index: int) -> None:
        """Take new chunks of reply number ``index``."""

    def refresh(self, *, force: bool = False) -> bool:
        """Redraw if due; True if something was sent."""

    def finish(self, replies: Sequence[BaseReply]) -> None:
        """Every stream has ended: the final flush."""
