"""Prose outside code: no raw ``"``, no ``<`` that could start HTML, no reference definition
that could run over the following lines; and where the code spans of a line are.

Example:
    >>> escape_text('a <b>bold</b> "quote", a < b')
    'a &lt;b>bold&lt;/b> &quot;quote&quot;, a < b'
    >>> code_spans("run `ls -l` or ``a`b``")
    [CodeSpan(start=4, end=11, ticks=1), CodeSpan(start=15, end=22, ticks=2)]
"""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

_LT_RE = re.compile(r"(\\*)<(?=[A-Za-z/!?])")
_QUOTE_RE = re.compile(r'(\\*)"')
_LT_PLAIN_RE = re.compile(r"<(?=[A-Za-z/!?])")
_SAFE_AUTOLINK_RE = re.compile(
    r"<(?:(?:https?|mailto):[^\s<>\"'`\\\x00-\x1f\x7f]*"
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)>",
    re.I,
)
_INLINE_TITLE_RE = re.compile(
    r"(\]\([ \t]*(?:<[^<>\n]*>|[^\s<()]*(?:\([^\s()]*\)[^\s<()]*)*)[ \t]+)\"([^\"]*)\"(?=[ \t]*\))"
)
_DEF_OPEN_RE = re.compile(r" {0,3}\[")
_DEF_STRICT_RE = re.compile(
    r" {0,3}\[(?:[^\\\[\]]|\\.)+\]:[ \t]*(?:<[^<>\n]*>|[^\s<]\S*)"
    r"(?:[ \t]+(\"[^\"]*\"|'[^']*'|\([^()]*\)))?[ \t]*\Z"
)
_TITLE_START_RE = re.compile(r"[ \t]*[\"'(]")
_BACKTICKS_RE = re.compile(r"`+")
#: A line of prose that needs more than being copied: HTML, a quote, a code span, a definition.
PROSE_SPECIAL_RE = re.compile(r"[<\"`]|^ {0,3}\[")


class CodeSpan(NamedTuple):
    """A code span in one line: ``line[start:end]`` with its backtick runs of ``ticks``."""

    start: int
    end: int
    ticks: int


def _requote(title: str) -> str | None:
    """A ``"title"`` in another quote, so that no raw ``"`` is left; None if impossible."""
    inner = title[1:-1]
    if "'" not in inner:
        return "'" + inner + "'"
    if "(" not in inner and ")" not in inner:
        return "(" + inner + ")"
    return None


def fix_definition(line: str, next_line: str | None) -> str:
    """Keep a one-line reference definition; make the ``[`` literal where marked could read more.

    marked takes a definition's label, URL and title over several lines (a title even over blank
    lines), which could swallow a following fence and uncover its content as prose.
    """
    m = _DEF_OPEN_RE.match(line)
    if m is None:
        return line
    bracket = m.end() - 1
    literal = line[:bracket] + "\\" + line[bracket:]
    i, n = m.end(), len(line)
    while i < n:
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            return line  # a label holds no bracket: not a definition
        if ch == "]":
            break
        i += 1
    else:
        return literal  # the label may go on over the next lines
    if not line.startswith(":", i + 1):
        return line  # a link or plain text
    d = _DEF_STRICT_RE.match(line)
    if d is None:
        return literal
    title = d.group(1)
    if title is None:
        if next_line is not None and _TITLE_START_RE.match(next_line):
            return literal
        return line
    if title[0] == '"':
        requoted = _requote(title)
        if requoted is None:
            return literal
        return line[: d.start(1)] + requoted + line[d.end(1) :]
    return line


def _lt(m: re.Match[str]) -> str:
    # "\<" already means a literal "<", but a bare-URL autolink just before it can swallow the
    # backslash (GFM in marked), so it becomes "&lt;" as well (one backslash fewer: same text).
    backslashes = m.group(1)
    odd = len(backslashes) % 2
    if not odd and _SAFE_AUTOLINK_RE.match(m.string, m.end(1)):
        return m.group(0)
    return backslashes[:-1] + "&lt;" if odd else backslashes + "&lt;"


def _quote(m: re.Match[str]) -> str:
    backslashes = m.group(1)
    return (backslashes[:-1] if len(backslashes) % 2 else backslashes) + "&quot;"


def _title(m: re.Match[str]) -> str:
    requoted = _requote('"' + m.group(2) + '"')
    return m.group(0) if requoted is None else m.group(1) + requoted


def escape_text(text: str) -> str:
    """Prose outside code spans: no raw ``"``, and no ``<`` that could start HTML."""
    if '"' in text:
        if "](" in text:
            text = _INLINE_TITLE_RE.sub(_title, text)
        text = _QUOTE_RE.sub(_quote, text) if "\\" in text else text.replace('"', "&quot;")
    if "<" in text:
        if "\\" in text or "<h" in text or "<H" in text or "<m" in text or "<M" in text or "@" in text:
            text = _LT_RE.sub(_lt, text)
        else:
            text = _LT_PLAIN_RE.sub("&lt;", text)
    return text


def code_spans(line: str) -> list[CodeSpan]:
    """The code spans of one line, matched as CommonMark does."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS_RE.finditer(line)]
    if len(runs) < 2:
        return []
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    spans: list[CodeSpan] = []
    done = 0  # end of the last span: backslashes before it do not escape
    for index, (start, end) in enumerate(runs):
        if start < done:
            continue
        back = start
        while back > done and line[back - 1] == "\\":
            back -= 1
        if (start - back) % 2:
            start += 1  # the first backtick is escaped; the rest of the run may open a span
        ticks = end - start
        if ticks == 0:
            continue
        candidates = by_length.get(ticks, [])
        k = bisect.bisect_right(candidates, index)
        if k == len(candidates):
            continue
        _, close_end = runs[candidates[k]]
        spans.append(CodeSpan(start, close_end, ticks))
        done = close_end
    return spans
