"""Byte-exact pieces of Ollama's wire format, written the way Go writes them.

Ollama is a Go program: its JSON comes from ``encoding/json`` (compact, struct field
order, ``<`` ``>`` ``&`` U+2028 U+2029 escaped, other non-ASCII left alone) and its
timestamps from ``time.Time.MarshalJSON`` (RFC 3339 with nanoseconds, trailing zeros
trimmed). Error texts for bad request bodies follow Go's ``encoding/json`` and
``encoding/base64`` wording.

Example:
    >>> go_json({"a": "<b>", "n": 1})
    b'{"a":"\\\\u003cb\\\\u003e","n":1}'
    >>> rfc3339_nano(1_700_000_000_120_000_000)
    '2023-11-14T22:13:20.12Z'
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = [
    "created_at",
    "decoded_base64_size",
    "go_base64_error",
    "go_float",
    "go_json",
    "go_json_error",
    "json_string",
    "parse_go_duration",
    "rfc3339_nano",
]

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _go_escape(text: str) -> str:
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = (
            text.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
            .replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
        )
    return text


def go_json(value: Any) -> bytes:
    """Serialise like Go's ``json.Marshal``: compact, HTML-safe, UTF-8, dict order kept.

    Example:
        >>> go_json({"text": "a & b\\u2028"})
        b'{"text":"a \\\\u0026 b\\\\u2028"}'
    """
    return _go_escape(_ENCODE(value)).encode("utf-8", "replace")


def go_float(value: float) -> bytes:
    """A float64 as Go's ``json.Marshal`` writes it: shortest digits, ``e`` form only below 1e-6 or from 1e21.

    Example:
        >>> go_float(-2.3841855e-07), go_float(-0.1053), go_float(1.0), go_float(1.5e-05)
        (b'-2.3841855e-7', b'-0.1053', b'1', b'0.000015')
    """
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"json: unsupported value: {number!r}")
    text = repr(number)
    magnitude = abs(number)
    if magnitude and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, _, exponent = text.partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0")
        return f"{mantissa.removesuffix('.0')}e{sign}{digits.rjust(1, '0')}".encode("ascii")
    if "e" in text:
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.encode("ascii")


_STRING_CACHE: dict[str, bytes] = {}


def json_string(text: str) -> bytes:
    """One JSON string literal in Go's escaping, cached (tokens repeat a lot).

    Example:
        >>> json_string(" <b>")
        b'" \\\\u003cb\\\\u003e"'
    """
    cached = _STRING_CACHE.get(text)
    if cached is None:
        if len(_STRING_CACHE) > 50_000:
            _STRING_CACHE.clear()
        cached = _STRING_CACHE[text] = go_json(text)
    return cached


_SECOND_CACHE: tuple[int, str] = (-1, "")
_STAMP_CACHE: tuple[int, bytes] = (-1, b"")


def rfc3339_nano(ns: int) -> str:
    """Format Unix nanoseconds as Go's ``time.RFC3339Nano`` in UTC.

    Example:
        >>> rfc3339_nano(1_735_689_600_000_000_000)
        '2025-01-01T00:00:00Z'
    """
    global _SECOND_CACHE
    seconds, fraction = divmod(ns, 1_000_000_000)
    cached_second, prefix = _SECOND_CACHE
    if cached_second != seconds:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _SECOND_CACHE = (seconds, prefix)
    if fraction:
        return f"{prefix}.{fraction:09d}".rstrip("0") + "Z"
    return prefix + "Z"


def created_at(_now: Callable[[], int] = time.time_ns) -> bytes:
    """The current time as it appears between the quotes of ``created_at`` (hot path).

    Example:
        >>> created_at().endswith(b"Z")
        True
    """
    global _STAMP_CACHE
    ns = _now()
    second, prefix = _STAMP_CACHE
    if ns // 1_000_000_000 != second:
        prefix = rfc3339_nano(ns - ns % 1_000_000_000)[:-1].encode("ascii") + b"."
        _STAMP_CACHE = (ns // 1_000_000_000, prefix)
    fraction = b"%09d" % (ns % 1_000_000_000)
    fraction = fraction.rstrip(b"0")
    return prefix + fraction + b"Z" if fraction else prefix[:-1] + b"Z"


# --- Go error texts ---------------------------------------------------------------


def _quote_char(char: str) -> str:
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    quoted = json.dumps(char, ensure_ascii=False)[1:-1]
    return f"'{quoted}'"


def _container_at(doc: str, pos: int) -> str:
    """Whether ``pos`` lies inside an object or an array (scan outside strings)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in doc[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def go_json_error(doc: str, error: json.JSONDecodeError) -> str:
    """Translate a Python JSON error into the text Go's ``encoding/json`` would give.

    Example:
        >>> try:
        ...     json.loads("xyz")
        ... except json.JSONDecodeError as exc:
        ...     go_json_error("xyz", exc)
        "invalid character 'x' looking for beginning of value"
    """
    pos, msg = error.pos, error.msg
    if pos >= len(doc) or msg.startswith("Unterminated string"):
        return "unexpected EOF"
    char = _quote_char(doc[pos])
    if msg == "Expecting value":
        return f"invalid character {char} looking for beginning of value"
    if msg.startswith("Expecting property name"):
        return f"invalid character {char} looking for beginning of object key string"
    if msg == "Expecting ':' delimiter":
        return f"invalid character {char} after object key"
    if msg == "Expecting ',' delimiter":
        where = "array element" if _container_at(doc, pos) == "[" else "object key:value pair"
        return f"invalid character {char} after {where}"
    if msg.startswith("Invalid control character"):
        return f"invalid character {char} in string literal"
    if msg.startswith("Invalid \\escape") or msg.startswith("Invalid \\uXXXX"):
        return f"invalid character {char} in string escape code"
    return f"invalid character {char} looking for beginning of value"


_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def go_base64_error(text: str) -> int | None:
    """Where Go's strict ``base64.StdEncoding`` decoder fails on ``text``, or None if it is valid.

    Mirrors ``encoding/base64`` ``decodeQuantum`` (padding required, CR/LF skipped), which
    Go's JSON decoder uses for ``[]byte`` fields such as ``images``.

    Example:
        >>> go_base64_error("aGVsbG8="), go_base64_error("aGV*bG8="), go_base64_error("abc")
        (None, 3, 0)
    """
    src = text.encode("utf-8", "replace")
    n, si = len(src), 0
    while si < n:
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return None
                return si - j
            byte = src[si]
            si += 1
            if byte in _BASE64:
                j += 1
                continue
            if byte in (10, 13):
                continue
            if byte != 61:  # not '='
                return si - 1
            if j < 2:
                return si - 1
            if j == 2:
                while si < n and src[si] in (10, 13):
                    si += 1
                if si == n:
                    return n
                if src[si] != 61:
                    return si - 1
                si += 1
            while si < n and src[si] in (10, 13):
                si += 1
            return si if si < n else None
    return None


def decoded_base64_size(text: str) -> int:
    """Byte size of valid base64 ``text`` once decoded.

    Example:
        >>> decoded_base64_size("aGVsbG8=")
        5
    """
    body = text.replace("\n", "").replace("\r", "")
    return len(body) // 4 * 3 - body[-2:].count("=")


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
            "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_go_duration(value: str) -> float:
    """Seconds in a Go duration string (``"5m"``, ``"1h30m"``, ``"0"``); ValueError with Go's text.

    Example:
        >>> parse_go_duration("1m30s")
        90.0
    """
    text = value
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    if text == "0":
        return 0.0
    quoted = json.dumps(value, ensure_ascii=False)
    if not text:
        raise ValueError(f"time: invalid duration {quoted}")
    total, pos = 0.0, 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            if re.fullmatch(r"[\d.]+", text[pos:]):
                raise ValueError(f"time: missing unit in duration {quoted}")
            raise ValueError(f"time: invalid duration {quoted}")
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    return sign * total / 1e9
