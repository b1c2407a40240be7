"""Streamed Markdown cut into frozen blocks that never change again, and a short open tail.

A view shows each frozen block once and re-sends only the tail, so a reply of n characters costs
O(n) bytes of display traffic instead of O(n²). See :class:`MarkdownBlocks`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ._lines import (
    BLANK_RE,
    SETEXT_UNDERLINE_RE,
    TABLE_DELIMITER_RE,
    After,
    BlockState,
    LineKind,
    classify,
    indent,
)
from ._unit import escape_unit, normalise

#: Characters of open tail after which :class:`MarkdownBlocks` freezes what it can.
DEFAULT_THRESHOLD = 1500

_SENTENCE_END_RE = re.compile(r"[.!?:;] (?=[^\W\d_])")


class PreviousLine(NamedTuple):
    kind: LineKind
    text: str


class TableHead(NamedTuple):
    """The header and delimiter rows of an open table, repeated when a long table is cut."""

    header: str
    delimiter: str


class Insertion(NamedTuple):
    """Lines a split added to the emitted raw text (a fence closed and reopened, a table header
    repeated): ``text`` at offset ``at``."""

    at: int
    text: str


class MarkdownBlocks:
    """Streamed Markdown cut into frozen blocks (never change again) and an open tail.

    ``feed(delta)`` returns the blocks that just froze, escaped with :func:`escape_untrusted`
    (``escape=False`` keeps them raw, for a user who allows HTML). A block freezes at a blank
    line outside fenced code once the open tail is longer than ``threshold`` characters, and
    everything up to the last such line freezes at once, so a reply of n characters gives about
    n / threshold blocks. A fenced block longer than that is closed at its last complete line and
    opened again, same fence and info string, after a blank line at the start of the tail; a table
    longer than 4 × ``threshold`` is cut likewise and its header and delimiter rows repeated. Each
    call costs O(len(delta)) amortised; :attr:`tail` costs O(len(tail)) when the text changed.
    For a live display with a typing cursor, use :meth:`tail_with_cursor`.

    The frozen blocks and the final tail, joined, equal ``escape_untrusted`` of the text, except
    where a fence or table was cut as above (then: of the text with those lines added).

    With ``split_anywhere=True``, text with no blank line in time (a long list, blockquote or
    paragraph) is cut too: between two lines outside code and tables, and, for one long line, after
    a sentence. Each block is then escaped on its own and safe shown on its own or joined to
    others by a blank line, but the blocks joined are not the escape of the whole (a list or a
    paragraph is cut in two): show the whole text, escaped once, when it ends.

    Example:
        >>> blocks = MarkdownBlocks(threshold=20)
        >>> blocks.feed("# Title\\n\\nSome <b>bold</b> text.\\n\\nMo")
        ['# Title\\n\\nSome &lt;b>bold&lt;/b> text.\\n\\n']
        >>> blocks.feed("re")
        []
        >>> blocks.tail
        'More'
        >>> blocks.close()
        'More'
    """

    def __init__(
        self, threshold: int = DEFAULT_THRESHOLD, *, escape: bool = True, split_anywhere: bool = False
    ) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1 character, not {threshold!r}")
        self.threshold = threshold
        self.escape = escape
        self.split_anywhere = split_anywhere
        self._line_cut = 0  # with split_anywhere: lines[:line_cut] may freeze before a non-blank line
        self._line_cut_state = BlockState()
        self._line_tried = 0  # tail size at the last try to cut inside the open line
        self._lines: list[str] = []  # complete lines of the open tail
        self._partial: list[str] = []  # pieces of its unfinished last line
        self._size = 0  # characters in the open tail
        self._start = BlockState()  # block state where the open tail begins
        self._state = BlockState()  # block state after its last complete line
        self._cut = 0  # lines[:cut] end with the last blank line we may freeze at (0: none)
        self._cut_state = self._start
        self._has_text = False  # a non-blank line is open (a blank line after it is a cut)
        self._fence_line = -1  # index of the open fence's opening line in lines
        self._table: TableHead | None = None  # of an open table
        self._table_rows = 0  # complete body rows of that table in lines
        self._previous = PreviousLine(LineKind.BLANK, "")
        self._carriage_return = False  # the last delta ended in "\r"
        self._closed = False
        self._slow = False  # closed, or a "\r" pending: feed takes the careful path
        self._may_freeze = False  # a line ended since the last attempt to freeze
        self._tail: str | None = None  # cache of the escaped tail
        self._inserted: list[Insertion] = []  # lines a split added to the emitted raw text
        self._emitted = 0  # raw characters emitted so far
        self._tail_added = 0  # characters at the start of the tail added by a split

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<MarkdownBlocks {state}, threshold {self.threshold}, {self._size} characters open>"

    # -- input ---------------------------------------------------------------------------------
    def feed(self, text_delta: str) -> list[str]:
        """Append streamed text; return the blocks that froze (often none).

        Example:
            >>> blocks = MarkdownBlocks(threshold=10)
            >>> blocks.feed("one\\n\\ntwo\\n\\nthree")
            ['one\\n\\ntwo\\n\\n']
        """
        if not ("\n" in text_delta or "\r" in text_delta or "\x00" in text_delta or self._slow):
            # The common case, a piece of a line: O(1) unless a freeze became possible.
            if text_delta:
                self._partial.append(text_delta)
                self._size += len(text_delta)
                self._tail = None
                if self._size > self.threshold and (self._may_freeze or self._may_split_line()):
                    return self._freeze()
            return []
        if self._closed:
            raise RuntimeError("this MarkdownBlocks is closed; start a new one for the next reply")
        if not text_delta:
            return []
        if self._carriage_return:
            text_delta = "\r" + text_delta
            self._carriage_return = self._slow = False
        if text_delta[-1] == "\r":
            text_delta = text_delta[:-1]
            self._carriage_return = self._slow = True
        if "\r" in text_delta or "\x00" in text_delta:
            text_delta = normalise(text_delta)
        self._tail = None
        self._size += len(text_delta)
        if "\n" not in text_delta:
            self._partial.append(text_delta)
        else:
            parts = text_delta.split("\n")
            self._partial.append(parts[0])
            self._end_line("".join(self._partial))
            for part in parts[1:-1]:
                self._end_line(part)
            self._partial = [parts[-1]] if parts[-1] else []
        if self._size <= self.threshold:
            return []
        return self._freeze()

    def _end_line(self, line: str) -> None:
        self._may_freeze = True
        index = len(self._lines)
        self._lines.append(line)
        previous_kind, previous = self._previous
        if (
            self.split_anywhere
            and index
            and previous_kind is not LineKind.BLANK
            and self._splits_before(line, previous_kind, previous)
        ):
            self._line_cut = index
            self._line_cut_state = self._state.copy()
        kind = classify(self._state, line)
        self._previous = PreviousLine(kind, line)
        if kind is LineKind.BLANK:
            if self._has_text:
                self._cut = index + 1
                self._cut_state = self._state.copy()
            self._table = None
            return
        self._has_text = True
        if kind is LineKind.FENCE_OPEN:
            self._fence_line = index
        elif kind is LineKind.FENCE_CLOSE:
            self._fence_line = -1
        if kind is not LineKind.PROSE:
            self._table = None
        elif self._table is not None:
            self._table_rows += 1
        elif previous_kind is LineKind.PROSE and "|" in previous and TABLE_DELIMITER_RE.match(line):
            self._table = TableHead(previous, line)
            self._table_rows = 0

    def _splits_before(self, line: str, previous_kind: LineKind, previous: str) -> bool:
        """True if the tail may be cut before ``line`` (the line before it is not blank).

        Not inside a fence or a table, not before a table's delimiter row or a setext underline,
        and not before a line that would read as indented code on its own.
        """
        if self._state.fence is not None or self._table is not None or BLANK_RE.match(line) or indent(line) >= 4:
            return False
        if SETEXT_UNDERLINE_RE.match(line):
            return False
        return not (previous_kind is LineKind.PROSE and "|" in previous and TABLE_DELIMITER_RE.match(line))

    def _may_split_before_open_line(self) -> bool:
        """True if the tail may be cut before its unfinished line (which cannot turn out to be a
        setext underline or a table's delimiter row: it has a character neither may hold)."""
        line = "".join(self._partial)
        previous_kind, previous = self._previous
        return (
            bool(line.strip(" \t=-|:"))
            and previous_kind is not LineKind.BLANK
            and self._splits_before(line, previous_kind, previous)
        )

    def _may_split_line(self) -> bool:
        """With split_anywhere: the open line grew by a quarter threshold since the last try."""
        return self.split_anywhere and self._size - self._line_tried > self.threshold // 4

    # -- freezing ------------------------------------------------------------------------------
    def _emit(self, lines: list[str]) -> str:
        return self._emit_raw("".join(line + "\n" for line in lines))

    def _emit_raw(self, raw: str) -> str:
        self._emitted += len(raw)
        self._tail_added = max(0, self._tail_added - len(raw))
        return escape_unit(raw, self._start) if self.escape else raw

    def freeze_now(self) -> list[str]:
        """Freeze whatever can be frozen, however short the open tail (a forced refresh is then
        cheap); returns the blocks, like :meth:`feed`.

        Example:
            >>> blocks = MarkdownBlocks(split_anywhere=True)
            >>> blocks.feed("- one\\n- two\\n- th")
            []
            >>> blocks.freeze_now(), blocks.tail
            (['- one\\n- two\\n'], '- th')
        """
        if self._closed or self._carriage_return:
            return []
        return self._freeze(limit=0)

    def _freeze(self, limit: int | None = None) -> list[str]:
        """Freeze at the cuts the tail allows while it is longer than ``limit`` (the threshold)."""
        limit = self.threshold if limit is None else limit
        self._may_freeze = False  # nothing more to freeze until another line ends
        frozen: list[str] = []
        upto, state = self._cut, self._cut_state  # the furthest cut the tail allows
        if self.split_anywhere:
            if self._line_cut > upto:
                upto, state = self._line_cut, self._line_cut_state
            if self._lines and self._may_split_before_open_line():
                upto, state = len(self._lines), self._state
        if upto:
            frozen.append(self._emit(self._lines[:upto]))
            self._restart(self._lines[upto:], state, rescan=False)
        if self._size <= limit:
            return frozen
        fence = self._state.fence
        if self.split_anywhere and not self._lines and fence is None:
            block = self._split_line()
            if block is not None:
                frozen.append(block)
        elif fence is not None and 0 <= self._fence_line < len(self._lines) - 1:
            closer = fence.closing_line()
            frozen.append(self._emit([*self._lines, closer]))
            self._inserted.append(Insertion(self._emitted - len(closer) - 1, closer + "\n\n" + fence.opener + "\n"))
            after = self._state.copy()
            after.fence, after.after = None, After.BLOCK
            self._restart(["", fence.opener], after, rescan=True)
            self._tail_added = len(fence.opener) + 2
        elif self._table is not None and self._table_rows and self._size > (1 if self.split_anywhere else 4) * limit:
            header, delimiter = self._table
            frozen.append(self._emit(self._lines))
            self._inserted.append(Insertion(self._emitted, "\n" + header + "\n" + delimiter + "\n"))
            self._restart(["", header, delimiter], self._state.copy(), rescan=True)
            self._tail_added = len(header) + len(delimiter) + 3
        return frozen

    def _split_line(self) -> str | None:
        """Freeze the open line up to its last sentence end (after ``". "`` and the like, outside
        code spans, math and link brackets as far as a count can tell); None if there is none."""
        line = "".join(self._partial)
        self._line_tried = self._size
        if indent(line) >= 4 or line.lstrip(" ").startswith("|"):
            return None
        ends = list(_SENTENCE_END_RE.finditer(line, max(0, len(line) - 4 * self.threshold)))
        for m in reversed(ends[-8:]):  # the last few sentence ends are enough; each try counts
            cut = m.end()
            before = line[:cut]
            if before.count("`") % 2 or before.count("$") % 2 or before.count("[") != before.count("]"):
                continue
            block = self._emit_raw(line[:cut])
            self._partial = [line[cut:]]
            self._start = self._state.copy()
            self._size = len(line) - cut
            self._line_tried = self._size
            return block
        return None

    def _restart(self, lines: list[str], state: BlockState, *, rescan: bool) -> None:
        """Make ``lines`` (plus the unfinished line) the open tail, starting in ``state``."""
        self._start = state.copy()
        self._cut = 0
        self._size = sum(len(line) + 1 for line in lines) + sum(map(len, self._partial))
        self._line_tried = 0
        if rescan:
            self._line_cut = 0
            self._lines = []
            self._state = state.copy()
            self._has_text = False
            self._fence_line = -1
            self._table, self._table_rows = None, 0
            self._previous = PreviousLine(LineKind.BLANK, "")
            for line in lines:
                self._end_line(line)
        else:  # lines were already read; only positions move
            dropped = len(self._lines) - len(lines)
            self._line_cut = self._line_cut - dropped if self._line_cut > dropped else 0
            self._lines = lines
            self._has_text = any(not BLANK_RE.match(line) for line in lines)
            if self._fence_line >= 0:
                self._fence_line -= dropped

    # -- output --------------------------------------------------------------------------------
    def _raw_tail(self) -> str:
        return "".join(line + "\n" for line in self._lines) + "".join(self._partial)

    @property
    def open_length(self) -> int:
        """How many of the characters fed so far are in the open tail (not frozen yet).

        Lines a split added to the tail (a reopened fence, a repeated table header) do not
        count, so ``received - open_length`` is the length of the text the frozen blocks show
        (after ``\\r\\n`` became ``\\n``).

        Example:
            >>> blocks = MarkdownBlocks(threshold=5)
            >>> blocks.feed("first\\n\\nsecond")
            ['first\\n\\n']
            >>> blocks.open_length
            6
        """
        return self._size - self._tail_added

    @property
    def inserted(self) -> tuple[Insertion, ...]:
        """What the splits added to the emitted raw text (a closed-and-reopened fence, a repeated
        table header), as ``Insertion(offset, text)`` in order: removing them from the emitted text
        gives back what the model wrote."""
        return tuple(self._inserted)

    @property
    def tail(self) -> str:
        """The open rest, escaped, for the live display (an open fence gets its closing line)."""
        if self._tail is None:
            raw = self._raw_tail()
            self._tail = escape_unit(raw, self._start) if self.escape else raw
        return self._tail

    def tail_with_cursor(self, cursor: str = " ▍") -> str:
        """The tail with ``cursor`` typed at its end, inside an open fence if there is one.

        Append a cursor here, never to :attr:`tail`: text added after the tail's closing fence
        line would leave the fence open and could uncover code as HTML.

        Example:
            >>> blocks = MarkdownBlocks()
            >>> _ = blocks.feed("```python\\nprint(1)")
            >>> blocks.tail_with_cursor(" ▍")
            '```python\\nprint(1) ▍\\n```'
        """
        raw = self._raw_tail()
        if not raw:
            return ""
        raw += cursor
        return escape_unit(normalise(raw), self._start) if self.escape else raw

    def close(self) -> str | None:
        """End of stream: the final tail (escaped), or None if nothing is left open.

        Example:
            >>> blocks = MarkdownBlocks()
            >>> blocks.feed("<i>done</i>")
            []
            >>> blocks.close()
            '&lt;i>done&lt;/i>'
        """
        if self._closed:
            return self.tail or None
        if self._carriage_return:  # a final "\r" is a line end; no freezing any more
            self._carriage_return = False
            self._end_line("".join(self._partial))
            self._partial = []
            self._size += 1
            self._tail = None
        self._closed = self._slow = True
        if not self._lines and not self._partial:
            return None
        return self.tail
