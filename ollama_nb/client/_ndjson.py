"""Incremental NDJSON decoding: bytes from the network in, JSON objects out.

Lines are split on the byte ``\\n`` before any decoding, so a UTF-8 character split across network
chunks is decoded whole, and a single huge line costs linear time. A line that is not a JSON object
is skipped and counted, never fatal. A line longer than the buffer's ``limit`` raises
:class:`LineTooLong` (the caller names the host), so memory is bounded by the package, not the server.
Numbers out of float range and ``NaN``/``Infinity`` decode (the statistics treat them as missing);
JSON nested too deep is not a JSON object.

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
from typing import Any, Mapping

__all__ = ["LineBuffer", "LineTooLong", "parse_line", "text_field"]

_loads = json.loads

#: The longest line a :class:`LineBuffer` holds unless told otherwise (16 MiB).
DEFAULT_LIMIT = 16 * 1024 * 1024


class LineTooLong(Exception):
    """A line grew past the buffer's limit (the buffer was emptied)."""


class LineBuffer:
    """Collects bytes and hands back complete lines (without the newline, blank lines dropped).

    A line longer than ``limit`` bytes raises :class:`LineTooLong`.
    """

    __slots__ = ("_pending", "_size", "limit")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._pending: list[bytes] = []
        self._size = 0
        self.limit = limit

    def _too_long(self) -> LineTooLong:
        self._pending = []
        self._size = 0
        return LineTooLong(self.limit)

    @property
    def empty(self) -> bool:
        """True when no unfinished line is waiting."""
        return not self._pending

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the lines it completed."""
        if b"\n" not in data:
            if data:
                self._size += len(data)
                if self._size > self.limit:
                    raise self._too_long()
                self._pending.append(data)
            return []
        if self._pending:
            self._pending.append(data)
            data = b"".join(self._pending)
            self._pending = []
        lines = data.split(b"\n")
        rest = lines.pop()
        self._size = len(rest)
        if len(data) > self.limit and max(map(len, lines)) > self.limit or self._size > self.limit:
            raise self._too_long()
        if rest:
            self._pending.append(rest)
        return [line for line in lines if line.strip()]

    def flush(self) -> bytes:
        """The bytes after the last newline (a line the server never finished), and reset."""
        rest = b"".join(self._pending)
        self._pending = []
        self._size = 0
        return rest.strip()


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The JSON object on ``line``, or None when it is not one (malformed, or not an object)."""
    try:
        # decoding first skips json's encoding detection on bytes (~0.8 µs a line)
        obj = _loads(line.decode())
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return obj if type(obj) is dict else None


def text_field(obj: Mapping[str, Any], key: str) -> str | None:
    """``obj[key]`` as text: '' when missing or null, None when it is not a string.

    Example:
        >>> text_field({"response": "Hi"}, "response"), text_field({"response": 5}, "response")
        ('Hi', None)
    """
    value = obj.get(key)
    if value is None:
        return ""
    return value if isinstance(value, str) else None
