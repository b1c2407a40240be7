"""LineBuffer and parse_line: bytes from the network in, whole JSON objects out.

Pure unit tests of the parser; the same behaviour over a real socket is in test_client.py
(``[[utf8]]``, ``[[malformed]]``).
"""

from __future__ import annotations

import json

import pytest

from ollama_nb.client._ndjson import LineBuffer, parse_line

MULTIBYTE_TEXT = "Grüße naïvé 日本語 🙂 Ελληνικά — €5"
MULTIBYTE_LINE = json.dumps({"response": MULTIBYTE_TEXT, "done": False}, ensure_ascii=False).encode()
SECOND_LINE = b'{"response":"","done":true}'
STREAM = MULTIBYTE_LINE + b"\n" + SECOND_LINE + b"\n"


def _feed_all(pieces: list[bytes]) -> list[bytes]:
    buffer = LineBuffer()
    lines: list[bytes] = []
    for piece in pieces:
        lines.extend(buffer.feed(piece))
    assert buffer.flush() == b""
    return lines


def test_every_single_split_point_of_a_multibyte_line_gives_the_same_lines_and_text() -> None:
    assert any(byte >= 0x80 for byte in MULTIBYTE_LINE)  # the line really is multi-byte
    for cut in range(len(STREAM) + 1):
        lines = _feed_all([STREAM[:cut], STREAM[cut:]])
        assert lines == [MULTIBYTE_LINE, SECOND_LINE], f"split at byte {cut}"
        assert parse_line(lines[0]) == {"response": MULTIBYTE_TEXT, "done": False}, f"split at byte {cut}"


def test_every_pair_of_split_points_inside_the_multibyte_line_decodes_exactly() -> None:
    n = len(MULTIBYTE_LINE) + 1  # include the newline
    for first in range(n + 1):
        for second in range(first, n + 1):
            pieces = [STREAM[:first], STREAM[first:second], STREAM[second:]]
            lines = _feed_all(pieces)
            assert lines == [MULTIBYTE_LINE, SECOND_LINE], (first, second)
    assert parse_line(MULTIBYTE_LINE)["response"] == MULTIBYTE_TEXT  # type: ignore[index]


def test_byte_by_byte_feeding_gives_whole_lines() -> None:
    lines = _feed_all([STREAM[i : i + 1] for i in range(len(STREAM))])
    assert lines == [MULTIBYTE_LINE, SECOND_LINE]


def test_several_lines_in_one_feed_come_back_in_order() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b'{"a":1}\n{"b":2}\n{"c":') == [b'{"a":1}', b'{"b":2}']
    assert buffer.feed(b"3}\n") == [b'{"c":3}']


def test_blank_lines_are_dropped() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b'\n\n{"a":1}\n  \n\r\n{"b":2}\n') == [b'{"a":1}', b'{"b":2}']


def test_crlf_terminated_lines_still_parse() -> None:
    lines = LineBuffer().feed(b'{"a":1}\r\n{"b":2}\r\n')
    assert [parse_line(line) for line in lines] == [{"a": 1}, {"b": 2}]


def test_flush_returns_an_unfinished_last_line_and_resets() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b'{"a":1}\n{"done":') == [b'{"a":1}']
    assert buffer.feed(b"true}") == []
    assert buffer.flush() == b'{"done":true}'
    assert buffer.flush() == b""
    assert buffer.feed(b'{"x":1}\n') == [b'{"x":1}']  # nothing left over from before


def test_empty_feed_completes_nothing() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"") == []
    assert buffer.flush() == b""


def test_a_one_megabyte_line_in_small_pieces_comes_back_whole() -> None:
    text = "x" * 1_000_000
    line = json.dumps({"response": text}).encode()
    pieces = [line[i : i + 1000] for i in range(0, len(line), 1000)] + [b"\n"]
    lines = _feed_all(pieces)
    assert lines == [line]
    assert parse_line(lines[0]) == {"response": text}


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b'{"unterminated": ',
        b"[1, 2, 3]",
        b'"a string"',
        b"42",
        b"null",
        b"\xff\xfe{}",  # not UTF-8
        b'{"response": "\xe6\x97"}',  # a multi-byte character cut short
    ],
)
def test_parse_line_returns_none_for_anything_but_a_json_object(line: bytes) -> None:
    assert parse_line(line) is None


def test_parse_line_decodes_utf8_objects() -> None:
    assert parse_line('{"t": "日本語 🙂"}'.encode()) == {"t": "日本語 🙂"}
