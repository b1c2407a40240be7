"""What the simulator saw and did, for tests to inspect and wait on.

Event kinds:

- ``"request"``: a request arrived (``lines_sent`` 0)
- ``"complete"``: a response was written in full (``lines_sent`` = NDJSON lines, or 1 for a body)
- ``"disconnect"``: the client went away before the response was complete
- ``"drop"``: the simulator closed the connection on purpose (``[[drop-after=K]]`` or
  :meth:`Simulator.drop_next_connections`)
- ``"refused"``: a busy (503) or rate-limited (429) answer (:meth:`Simulator.refuse_next`,
  ``[[busy=N]]``, ``[[rate-limit=N]]``)

Times are ``time.monotonic()`` seconds.

Example:
    >>> journal = Journal()
    >>> journal.record("complete", "/api/chat", lines_sent=3)
    >>> journal.wait_for("complete", timeout=0.1).lines_sent
    3
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "Journal", "Request"]


@dataclass(frozen=True)
class Request:
    """One HTTP request as the simulator received it.

    ``body`` is the parsed JSON object, or None (no body, not JSON, not an object);
    ``headers`` has lower-case names. An ``Authorization`` header is never stored, not even
    in ``headers``: ``has_authorization`` says only whether the request carried one.

    Example:
        >>> Request("POST", "/api/chat", {"model": "llama3.2"}, 12.5).body["model"]
        'llama3.2'
    """

    method: str
    path: str
    body: dict[str, Any] | None
    time: float
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    has_authorization: bool = False


@dataclass(frozen=True)
class Event:
    """Something that happened to a connection; see the module docstring for kinds.

    Example:
        >>> Event("disconnect", "/api/chat", 3.25, lines_sent=4).lines_sent
        4
    """

    kind: str
    path: str
    time: float
    lines_sent: int = 0


class Journal:
    """Thread-safe lists of requests and events with a blocking :meth:`wait_for`."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._requests: list[Request] = []
        self._events: list[Event] = []
        self._cursor: dict[str, int] = {}

    @property
    def requests(self) -> list[Request]:
        """A copy of the requests so far, oldest first."""
        with self._changed:
            return list(self._requests)

    @property
    def events(self) -> list[Event]:
        """A copy of the events so far, oldest first."""
        with self._changed:
            return list(self._events)

    def add_request(self, request: Request) -> None:
        """Store a request and record a ``"request"`` event for it."""
        with self._changed:
            self._requests.append(request)
            self._events.append(Event("request", request.path, request.time, 0))
            self._changed.notify_all()

    def record(self, kind: str, path: str, lines_sent: int = 0) -> None:
        """Record an event now and wake every :meth:`wait_for`."""
        event = Event(kind, path, time.monotonic(), lines_sent)
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    def wait_for(self, kind: str, timeout: float = 5.0) -> Event:
        """Block until an event of ``kind`` not yet returned by ``wait_for`` exists; return it.

        Successive calls return successive events of that kind. Raises TimeoutError.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                start = self._cursor.get(kind, 0)
                for index in range(start, len(self._events)):
                    if self._events[index].kind == kind:
                        self._cursor[kind] = index + 1
                        return self._events[index]
                self._cursor[kind] = len(self._events)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({e.kind for e in self._events})
                    raise TimeoutError(
                        f"no new {kind!r} event within {timeout:g} s (kinds seen so far: {seen})"
                    )
                self._changed.wait(remaining)
