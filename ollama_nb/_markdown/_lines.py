"""Block structure, one line at a time: what kind each line is, and the state between lines.

This reading only has to be good for looks: safety does not depend on it (see the package
docstring), except for the top-level fences kept verbatim, whose conditions are checked
separately in :func:`fence_is_anchored`.

Example:
    >>> state = BlockState()
    >>> [classify(state, line).name for line in ["Text", "", "```py", "x = 1", "```"]]
    ['PROSE', 'BLANK', 'FENCE_OPEN', 'FENCE_BODY', 'FENCE_CLOSE']
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

BLANK_RE = re.compile(r"[ \t]*\Z")
TABLE_DELIMITER_RE = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*\Z")
SETEXT_UNDERLINE_RE = re.compile(r" {0,3}(?:=+|-+)[ \t]*\Z")
_FENCE_RE = re.compile(r"(`{3,}|~{3,})(.*)\Z", re.S)
_FENCE_TAIL_RE = re.compile(r"[~`]*[ \t]*\Z")
_FENCE_LIKE_RE = re.compile(r" {0,3}(?:`{3,}|~{3,})[~`]*[ \t]*\Z")
_LIST_RE = re.compile(r"([-+*]|\d{1,9}[.)])(?:([ \t]+)|\Z)")
_THEMATIC_RE = re.compile(r"([-*_])(?:[ \t]*\1){2,}[ \t]*\Z")
_HEADING_RE = re.compile(r"#{1,6}(?:[ \t]|\Z)")


class LineKind(enum.Enum):
    """What one line is, read outside or inside a fenced block."""

    BLANK = "blank"
    PROSE = "prose"  # a paragraph, heading, list item, quote, table row, thematic break
    FENCE_OPEN = "fence open"
    FENCE_BODY = "fence body"
    FENCE_CLOSE = "fence close"
    INDENTED = "indented code"


class After(enum.Enum):
    """What the previous line was, for indented code (which cannot interrupt a paragraph)."""

    BLANK = "blank"
    PARAGRAPH = "paragraph"
    BLOCK = "block"
    INDENTED = "indented code"


@dataclass(frozen=True, slots=True)
class Fence:
    """An open fenced code block: where it sits and how it was opened."""

    indent: int  # columns before the fence run
    base: int  # content column of the list item holding it (0 at top level)
    run: str  # "```", "~~~~", ...
    info: str
    opener: str  # the opening line as written

    def closes(self, line: str) -> bool:
        """True if ``line`` ends this block (marked's rule: the same run, then only ~ ` and spaces)."""
        if self.run[0] not in line or indent(line) > self.base + 3:
            return False
        rest = line.lstrip(" \t")
        return rest.startswith(self.run) and _FENCE_TAIL_RE.match(rest, len(self.run)) is not None

    def closing_line(self) -> str:
        return " " * self.indent + self.run


@dataclass(slots=True)
class BlockState:
    """Block state between two lines: an open fence, what came before, the list item column."""

    fence: Fence | None = None
    after: After = After.BLANK
    list_col: int = -1  # content column of the open list item, -1 outside lists

    def copy(self) -> BlockState:
        return BlockState(self.fence, self.after, self.list_col)


def indent(line: str) -> int:
    """Columns of leading blanks (a tab goes to the next multiple of 4)."""
    if not line or line[0] not in " \t":
        return 0
    col = 0
    for ch in line:
        if ch == " ":
            col += 1
        elif ch == "\t":
            col += 4 - col % 4
        else:
            break
    return col


def strip_columns(line: str, columns: int) -> str:
    """``line`` without up to ``columns`` columns of leading blanks (tabs count to the next stop)."""
    col = i = 0
    while i < len(line) and col < columns and line[i] in " \t":
        col += 1 if line[i] == " " else 4 - col % 4
        i += 1
    return line[i:]


def _starts_block(rest: str) -> bool:
    return bool(
        rest.startswith(">")
        or _HEADING_RE.match(rest)
        or _FENCE_RE.match(rest)
        or _THEMATIC_RE.match(rest)
        or _LIST_RE.match(rest)
    )


def classify(state: BlockState, line: str) -> LineKind:
    """The kind of ``line``; ``state`` is advanced past it."""
    fence = state.fence
    if fence is not None:
        if fence.closes(line):
            state.fence = None
            state.after = After.BLOCK
            return LineKind.FENCE_CLOSE
        return LineKind.FENCE_BODY
    if line[:1].isalpha():  # the common prose line: no block syntax can start with a letter
        if state.list_col > 0 and state.after is After.BLANK:
            state.list_col = -1
        state.after = After.PARAGRAPH
        return LineKind.PROSE
    if BLANK_RE.match(line):
        state.after = After.BLANK
        return LineKind.BLANK
    ind = indent(line)
    rest = line.lstrip(" \t") if ind else line
    if state.list_col >= 0 and ind < state.list_col and (state.after is After.BLANK or _starts_block(rest)):
        state.list_col = -1
    base = state.list_col if state.list_col >= 0 else 0
    if ind >= base + 4:
        if state.after is After.PARAGRAPH:  # a lazy continuation line of the paragraph
            return LineKind.PROSE
        state.after = After.INDENTED
        return LineKind.INDENTED
    m = _FENCE_RE.match(rest)
    if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
        state.fence = Fence(ind, base, m.group(1), m.group(2), line)
        state.after = After.BLOCK
        return LineKind.FENCE_OPEN
    if _THEMATIC_RE.match(rest) or _HEADING_RE.match(rest):
        state.after = After.BLOCK
        return LineKind.PROSE
    m = _LIST_RE.match(rest)
    if m:
        gap = indent(" " * (ind + len(m.group(1))) + (m.group(2) or "")) - ind - len(m.group(1))
        state.list_col = ind + len(m.group(1)) + (gap if 1 <= gap <= 4 else 1)
    state.after = After.PARAGRAPH
    return LineKind.PROSE


def fence_is_anchored(fence: Fence, body: list[str], closer: str) -> bool:
    """True if a fenced block is provably code to marked and to JupyterLab's math pre-pass.

    It must open at column 0 of the top level with a language (so that its opening line can
    never close another block), close with exactly its run at column 0 (the form JupyterLab's
    math pre-pass recognises), and hold no line that could close any fence. Then, whatever state
    marked is in before it, everything between the two lines is code.
    """
    if fence.indent or fence.base or "`" in fence.info or not fence.info.strip(" \t`~"):
        return False
    if fence.run[0] == "`":
        if not (closer.startswith(fence.run) and closer.strip("`") == ""):
            return False
    elif closer != fence.run:
        return False
    return not any(_FENCE_LIKE_RE.match(line) for line in body)
