"""The typed pieces an escaped unit is made of, and the edits made to it afterwards.

A unit's text is first cut into items (blank lines, prose lines, fenced and indented code),
then written out as pieces: escaped prose, code kept as written, an anchored fence, code
written as HTML, line breaks. The link and math checks read the joined pieces, and answer with
edits (in prose) or with code owners whose code must be written as HTML after all.

Example:
    >>> piece = Piece(PieceKind.KEPT_CODE, "`<b>`", CodeOwner("span", line=0, column=4))
    >>> piece.kind.may_start_math, piece.owner.kind
    (True, 'span')
"""

from __future__ import annotations

import enum
from typing import NamedTuple, Union

from ._lines import Fence


# -- items: the unit's lines, read as blocks ------------------------------------------------------
class BlankLine(NamedTuple):
    text: str


class ProseLine(NamedTuple):
    index: int  # type: ignore[assignment]  # of the line in the unit (shadows tuple.index)


class FencedCode(NamedTuple):
    start: int  # the opening line
    end: int  # the closing line (exclusive of the body; may be past the last line: unclosed)
    fence: Fence
    anchored: bool  # kept as written whatever it holds (see fence_is_anchored)
    risky: bool  # would do harm read as prose: written as HTML unless anchored


class IndentedCode(NamedTuple):
    start: int
    end: int  # exclusive
    base: int  # content column of the list item holding it
    risky: bool


Item = Union[BlankLine, ProseLine, FencedCode, IndentedCode]


# -- segments of one prose line --------------------------------------------------------------------
class ProseText(NamedTuple):
    escaped: str


class SpanText(NamedTuple):
    raw: str  # the code span as written, backticks included
    html: str  # the same as inert HTML
    risky: bool
    column: int  # where it starts in the line


Segment = Union[ProseText, SpanText]


# -- pieces of the written unit ---------------------------------------------------------------------
class PieceKind(enum.Enum):
    PROSE = "prose"
    KEPT_CODE = "code kept as written"
    ANCHORED_FENCE = "anchored fence"
    HTML = "code written as HTML"
    LINE_BREAK = "line break"

    @property
    def may_start_math(self) -> bool:
        """Math delimiters here start math in JupyterLab's pre-pass (prose and kept code)."""
        return self in (PieceKind.PROSE, PieceKind.KEPT_CODE)


class CodeOwner(NamedTuple):
    """Which code a piece comes from, so that the checks can ask for it as HTML."""

    kind: str  # "span", "fence" or "indented"
    line: int
    column: int = 0


class Piece(NamedTuple):
    kind: PieceKind
    text: str
    owner: CodeOwner | None = None


class Edit(NamedTuple):
    """Replace ``size`` characters at ``at`` of the joined pieces with ``replacement``."""

    at: int
    size: int
    replacement: str
