"""Releasing a blocking reply's connection, also from a finaliser, without a deadlock.

The cyclic garbage collector runs in whichever thread happens to allocate, at any moment, even
inside httpcore while that thread holds the connection pool's (non-reentrant) lock. Two kinds of
finaliser would take that lock again in the same thread and hang for ever:

- ours (``Reply.__del__``, the ``finally`` of the generator behind ``Reply.__iter__``) calling
  ``response.close()``;
- httpx's and httpcore's own body generators (``response.iter_raw()`` and the ones below it),
  which close the pool stream when they are finalised while suspended.

So a body being read is kept reachable from here (:func:`keep`) until it is released: the
collector never finalises it. :func:`release` closes at once, as before, except while the
collector runs in the calling thread: then it only shuts the socket down (the server sees the
close at once, no lock needed) and hands the closing to one daemon thread, which waits for the
pool lock until its holder lets go. ``queue.SimpleQueue.put`` is made for this: safe in ``__del__``.

Example:
    >>> body = keep(response.iter_raw())     # doctest: +SKIP
    >>> release(response, body)              # in Reply.close()   # doctest: +SKIP
"""

from __future__ import annotations

import gc
import queue
import threading
from typing import Any, Iterator

import httpx

from ._reply_state import shutdown_connection

__all__ = ["keep", "release"]

_collecting = threading.local()
_kept: set[Iterator[bytes]] = set()
_to_close: queue.SimpleQueue[tuple[httpx.Response, Iterator[bytes] | None]] = queue.SimpleQueue()
_closer: threading.Thread | None = None


def _note_collection(phase: str, info: dict[str, Any]) -> None:
    """A ``gc.callbacks`` hook: marks the thread that runs the collector while it runs."""
    _collecting.active = phase == "start"


gc.callbacks.append(_note_collection)


def _start_closer() -> None:
    """Start the thread that closes what finalisers hand over (if not running yet).

    Called where a body starts to be read, never from a finaliser (starting a thread takes locks).
    """
    global _closer
    if _closer is None or not _closer.is_alive():
        _closer = threading.Thread(target=_close_handed_over, name="ollama_nb-closer", daemon=True)
        _closer.start()


def _close_handed_over() -> None:
    while True:
        response, body = _to_close.get()
        try:
            if body is not None:
                getattr(body, "close")()  # httpx's generators: suspended, abandoned; closing takes the pool lock
            response.close()
        except Exception:  # the socket is already shut down: nothing more to tell anyone
            pass
        finally:
            _let_go(body)


def keep(body: Iterator[bytes]) -> Iterator[bytes]:
    """Keep ``body`` (httpx's generator over a response) out of the collector's reach until released."""
    _start_closer()
    _kept.add(body)
    return body


def release(response: httpx.Response, body: Iterator[bytes] | None = None) -> None:
    """Close ``response`` now, or, inside a garbage collection in this thread, shut it and close it soon.

    ``body`` (given to :func:`keep`) is let go: dropped as usual, or closed by the closer thread.
    """
    if getattr(_collecting, "active", False):
        shutdown_connection(response)
        _to_close.put((response, body))
        return
    try:
        response.close()
    finally:
        _let_go(body)


def _let_go(body: Iterator[bytes] | None) -> None:
    if body is not None:
        _kept.discard(body)
