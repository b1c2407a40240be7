"""JupyterLab's math pre-pass (rendermime's ``removeMath``), and where it could do harm.

``$``, ``$$``, ``\\\\(``, ``\\\\[`` and ``\\begin{`` start math, which cannot cross a blank line;
``\\$`` is an escaped dollar. JupyterLab cuts math out before Markdown and pastes it back into
the HTML afterwards, also into attributes, where a raw ``"`` ends the attribute; and math that
starts before an anchored fence and ends inside it hides the fence's opening line.

MathJax (JupyterLab 4 loads every TeX package, behind MathJax's ``safe`` filter) then typesets
the rendered page, also where the pre-pass saw no math (``\\$`` is a ``$`` there). The safe
filter drops ``javascript:`` links, foreign classes and ids, but keeps an ``https:`` link
(``\\href``, ``\\mmlToken``) and colours, borders and padding up to 3em (``\\style``, ``\\bbox``):
a model's answer must make neither. So the commands that write attributes or load packages
(:data:`ATTRIBUTE_COMMANDS`) get a word joiner (U+2060, invisible) after their backslash in
prose, where TeX reads them as an undefined one-character command and shows them as text; kept
code under math is written as HTML.

Example:
    >>> pieces = [Piece(PieceKind.PROSE, 'cost $5 and "x" $6')]
    >>> edits, more = math_edits(pieces[0].text, pieces, [0])
    >>> [(e.at, e.replacement) for e in edits], more
    ([(5, '\\\\'), (16, '\\\\')], set())
"""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

from ._pieces import CodeOwner, Edit, Piece, PieceKind

#: TeX commands that set an attribute (a link, a style, a class, an id, data) or load a package.
ATTRIBUTE_COMMANDS = ("bbox", "class", "cssId", "data", "href", "mmlToken", "require", "style", "unicode")
_MATH_TOKEN_RE = re.compile(
    r"\n[ \t]*(?=\n)|\\\\[(\[)\]]|\\(?:begin|end)\{|\\(?:"
    + "|".join(ATTRIBUTE_COMMANDS)
    + r")(?![A-Za-z])|\\\$|\$\$?|\""
)
_JOINER = "\u2060"


class _Delimiter(NamedTuple):
    at: int
    token: str
    piece: Piece


def _settle(
    outer: list[_Delimiter], inner: list[tuple[int, int]], quotes: list[int], edits: list[Edit], more: set[CodeOwner]
) -> None:
    """One paragraph's delimiters: if math from them could do harm, neutralise every one."""
    if not outer:
        return
    first = outer[0].at
    last = max(outer[-1].at, inner[-1][0] if inner else -1)
    harmful = any(first < q < last for q in quotes) or any(first < fence_start for _, fence_start in inner)
    if not harmful:
        return
    for at, token, piece in outer:
        if piece.kind is PieceKind.KEPT_CODE:
            assert piece.owner is not None
            more.add(piece.owner)
        elif token[0] == "$":
            edits.extend(Edit(at + k, 0, "\\") for k in range(len(token)))
        elif token.startswith("\\\\"):
            edits.append(Edit(at + 2, 1, "&#40;" if token[2] in "()" else "&#91;"))
        else:
            edits.append(Edit(at, 1, "&#92;"))


def math_edits(text: str, pieces: list[Piece], starts: list[int]) -> tuple[list[Edit], set[CodeOwner]]:
    """Escape math delimiters where JupyterLab's math pre-pass could do harm (per paragraph).

    ``text`` is the pieces joined, ``starts`` where each piece starts in it. Delimiters in prose
    and kept code may start math; in an anchored fence only the backslash ones count (its ``$``
    are protected by the pre-pass). Harm: math from an outer delimiter over a raw ``"`` (it
    could be pasted into an attribute), or into an anchored fence (it would hide the opening
    line). Then every outer delimiter of the paragraph is escaped (the edits), or its kept code
    is to be written as HTML (the owners returned); math that starts inside an anchored fence
    stays inside code for marked and is harmless.
    """
    edits: list[Edit] = []
    more: set[CodeOwner] = set()
    outer: list[_Delimiter] = []
    inner: list[tuple[int, int]] = []  # (position, start of its anchored fence)
    quotes: list[int] = []
    commands_in_code: set[CodeOwner] = set()  # kept code holding an attribute command
    for m in _MATH_TOKEN_RE.finditer(text):
        token = m.group()
        if token[0] == "\n":
            _settle(outer, inner, quotes, edits, more)
            more.update(commands_in_code if outer else ())
            outer, inner, quotes, commands_in_code = [], [], [], set()
            continue
        at = m.start()
        index = bisect.bisect_right(starts, at) - 1
        piece = pieces[index]
        if piece.kind in (PieceKind.HTML, PieceKind.LINE_BREAK) or token == "\\$":
            continue
        if token[1:] in ATTRIBUTE_COMMANDS:
            if piece.kind is PieceKind.PROSE:
                edits.append(Edit(at + 1, 0, _JOINER))
            elif piece.kind is PieceKind.KEPT_CODE and piece.owner is not None:
                commands_in_code.add(piece.owner)
            continue
        if token == '"':
            quotes.append(at)
        elif piece.kind.may_start_math:
            outer.append(_Delimiter(at, token, piece))
        elif token[0] == "\\":
            inner.append((at, starts[index]))
    _settle(outer, inner, quotes, edits, more)
    more.update(commands_in_code if outer else ())
    return edits, more
