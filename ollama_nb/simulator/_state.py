"""The settings and shared state of one simulator, read by every request it answers."""

from __future__ import annotations

import contextlib
import socket
import threading

from ._gate import Gate
from ._journal import Journal
from ._models import ModelShelf

__all__ = ["SimState"]


class SimState:
    """Settings and shared state of one simulator; read by every request."""

    def __init__(self, tokens_per_second: float | None = None, pull_seconds: float = 1.0,
                 gate: Gate | None = None) -> None:
        self.tokens_per_second = tokens_per_second
        self.pull_seconds = pull_seconds
        self.gate = gate or Gate()
        self.hostile = False  # set by Simulator(hostile=True)
        self.journal = Journal()
        self.shelf = ModelShelf()
        self._lock = threading.Lock()
        self._next = {"drop": 0, "busy": 0}  # connections to drop, requests to answer 503
        self._open: set[socket.socket] = set()

    def token_delay(self) -> float:
        """Seconds between tokens from tokens_per_second (0 = as fast as possible)."""
        rate = self.tokens_per_second
        return 1.0 / rate if rate else 0.0

    def drop_next(self, n: int) -> None:
        """Close the next ``n`` accepted connections without a byte."""
        self._add("drop", n)

    def take_drop(self) -> bool:
        return self._take("drop")

    def busy_next(self, n: int) -> None:
        """Answer the next ``n`` chat/generate requests 503 "server busy"."""
        self._add("busy", n)

    def take_busy(self) -> bool:
        return self._take("busy")

    def _add(self, what: str, n: int) -> None:
        with self._lock:
            self._next[what] += n

    def _take(self, what: str) -> bool:
        """True (and one fewer to go) when a ``drop``/``busy`` is still owed."""
        with self._lock:
            if self._next[what] <= 0:
                return False
            self._next[what] -= 1
            return True

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            (self._open.add if add else self._open.discard)(sock)

    def close_all(self) -> None:
        """Shut every open client connection (used by stop)."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
