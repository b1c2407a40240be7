"""Escape one unit of Markdown: a frozen block, the open tail, or a whole text.

The unit is read into items (blank lines, prose lines, fenced and indented code), written out
as pieces, and then checked as a whole for unsafe links and for math that JupyterLab's pre-pass
could paste where it does harm; code a check objects to is written as HTML and the check runs
again. See the package docstring for the rules and why they hold.

Example:
    >>> escape_unit('Say <b>hi</b> `<i>`\\n', BlockState())
    'Say &lt;b>hi&lt;/b> <code>&lt;i&gt;</code>\\n'
"""

from __future__ import annotations

import bisect

from ._code import code_html, definition_risk, is_risky, safe_opener
from ._lines import BlockState, Fence, LineKind, classify, fence_is_anchored, strip_columns
from ._math import math_edits
from ._pieces import (
    BlankLine,
    CodeOwner,
    Edit,
    FencedCode,
    IndentedCode,
    Item,
    Piece,
    PieceKind,
    ProseLine,
    ProseText,
    Segment,
    SpanText,
)
from ._prose import PROSE_SPECIAL_RE, code_spans, escape_text, fix_definition
from ._urls import LINK_MARK_RE, destination_is_safe

_LINE_BREAK = Piece(PieceKind.LINE_BREAK, "\n")


def _read_items(lines: list[str], state: BlockState) -> list[Item]:
    """The unit's lines as blocks, starting in ``state`` (never inside a fenced block)."""
    state = state.copy()
    kinds: list[LineKind] = []
    bases: list[int] = []
    fences: dict[int, Fence] = {}
    for index, line in enumerate(lines):
        kind = classify(state, line)
        kinds.append(kind)
        bases.append(state.list_col if state.list_col >= 0 else 0)
        if kind is LineKind.FENCE_OPEN:
            assert state.fence is not None
            fences[index] = state.fence
    items: list[Item] = []
    i, n = 0, len(lines)
    while i < n:
        kind = kinds[i]
        if kind is LineKind.BLANK:
            items.append(BlankLine(lines[i]))
            i += 1
        elif kind is LineKind.PROSE:
            items.append(ProseLine(i))
            i += 1
        elif kind is LineKind.FENCE_OPEN:
            j = i + 1
            while j < n and kinds[j] is LineKind.FENCE_BODY:
                j += 1
            fence = fences[i]
            body = lines[i + 1 : j]
            closer = lines[j] if j < n else fence.closing_line()
            anchored = fence_is_anchored(fence, body, closer)
            risky = not anchored and (
                is_risky("\n".join([safe_opener(lines[i], fence), closer, *body])) or definition_risk(body)
            )
            items.append(FencedCode(i, j, fence, anchored, risky))
            i = j + 1
        elif kind is LineKind.INDENTED:
            j = i + 1
            while j < n and kinds[j] is LineKind.INDENTED:
                j += 1
            block = lines[i:j]
            risky = is_risky("\n".join(block)) or definition_risk(block)
            items.append(IndentedCode(i, j, bases[i], risky))
            i = j
        else:  # a body line with no opener in this unit: cannot happen (units start outside)
            raise AssertionError("a unit must not start inside a fenced block")
    return items


class _Unit:
    """One unit read into items; :meth:`render` writes it escaped."""

    def __init__(self, text: str, state: BlockState) -> None:
        self.ends_with_newline = text.endswith("\n")
        lines = text.split("\n")
        if self.ends_with_newline:
            lines.pop()
        self.lines = lines
        self.items = _read_items(lines, state)
        self._prose: dict[int, list[Segment]] = {}

    def _prose_segments(self, index: int) -> list[Segment]:
        """Escaped text and code spans of one prose line."""
        cached = self._prose.get(index)
        if cached is not None:
            return cached
        line = self.lines[index]
        segments: list[Segment]
        if not PROSE_SPECIAL_RE.search(line):
            segments = [ProseText(line)]
        else:
            following = self.lines[index + 1] if index + 1 < len(self.lines) else None
            line = fix_definition(line, following)
            segments = []
            pos = 0
            if "`" in line:
                # marked may read the line as a fence opener (behind list markers we do not
                # follow); a quote in a kept span would then end up in class="language-…".
                fence_like = "```" in line or "~~~" in line
                for start, end, ticks in code_spans(line):
                    segments.append(ProseText(escape_text(line[pos:start])))
                    raw = line[start:end]
                    content = raw[ticks:-ticks]
                    if len(content) >= 2 and content[0] == content[-1] == " " and content.strip(" "):
                        content = content[1:-1]
                    risky = is_risky(raw) or (fence_like and '"' in raw)
                    segments.append(SpanText(raw, code_html(content, block=False), risky, start))
                    pos = end
            segments.append(ProseText(escape_text(line[pos:])))
        self._prose[index] = segments
        return segments

    def _pieces(self, as_html: set[CodeOwner]) -> list[Piece]:
        """The unit written out; code of the owners in ``as_html`` is written as HTML."""
        pieces: list[Piece] = []
        add = pieces.append
        lines = self.lines
        for item in self.items:
            if pieces:
                add(_LINE_BREAK)
            if isinstance(item, BlankLine):
                add(Piece(PieceKind.LINE_BREAK, item.text))
            elif isinstance(item, ProseLine):
                for segment in self._prose_segments(item.index):
                    if isinstance(segment, ProseText):
                        if segment.escaped:
                            add(Piece(PieceKind.PROSE, segment.escaped))
                        continue
                    owner = CodeOwner("span", item.index, segment.column)
                    if segment.risky or owner in as_html:
                        add(Piece(PieceKind.HTML, segment.html))
                    else:
                        add(Piece(PieceKind.KEPT_CODE, segment.raw, owner))
            elif isinstance(item, FencedCode):
                fence = item.fence
                body = lines[item.start + 1 : item.end]
                closer = lines[item.end] if item.end < len(lines) else fence.closing_line()
                owner = CodeOwner("fence", item.start)
                opener = safe_opener(lines[item.start], fence)
                if item.anchored:
                    add(Piece(PieceKind.ANCHORED_FENCE, "\n".join([opener, *body, closer]), owner))
                elif item.risky or owner in as_html:
                    code = "".join(strip_columns(x, fence.indent) + "\n" for x in body)
                    add(Piece(PieceKind.HTML, " " * fence.indent + code_html(code, block=True)))
                else:
                    add(Piece(PieceKind.KEPT_CODE, "\n".join([opener, *body, closer]), owner))
            else:
                owner = CodeOwner("indented", item.start)
                if item.risky or owner in as_html:
                    code = "".join(strip_columns(x, item.base + 4) + "\n" for x in lines[item.start : item.end])
                    add(Piece(PieceKind.HTML, " " * item.base + code_html(code, block=True)))
                else:
                    add(Piece(PieceKind.KEPT_CODE, "\n".join(lines[item.start : item.end]), owner))
        return pieces

    def render(self) -> str:
        as_html: set[CodeOwner] = set()
        while True:
            pieces = self._pieces(as_html)
            text = "".join(p.text for p in pieces)
            starts = []
            pos = 0
            for p in pieces:
                starts.append(pos)
                pos += len(p.text)
            edits: list[Edit] = []
            more: set[CodeOwner] = set()
            if "]" in text:
                _check_links(text, pieces, starts, edits, more)
            if "$" in text or "\\" in text:
                math, math_owners = math_edits(text, pieces, starts)
                edits += math
                more |= math_owners
            if not more:
                break
            as_html |= more
        if edits:
            edits.sort()
            out, last = [], 0
            for at, size, replacement in edits:
                out.append(text[last:at])
                out.append(replacement)
                last = at + size
            out.append(text[last:])
            text = "".join(out)
        return text + "\n" if self.ends_with_newline else text


def _check_links(text: str, pieces: list[Piece], starts: list[int], edits: list[Edit], more: set[CodeOwner]) -> None:
    """An unsafe link destination stops being one: ``](`` / ``]:`` in prose become entities,
    and code it starts in (which marked may read as prose) is to be written as HTML."""
    for m in LINK_MARK_RE.finditer(text):
        piece = pieces[bisect.bisect_right(starts, m.start()) - 1]
        if piece.kind in (PieceKind.ANCHORED_FENCE, PieceKind.HTML, PieceKind.LINE_BREAK):
            continue
        if destination_is_safe(text, m.end()):
            continue
        if piece.kind is PieceKind.PROSE:
            edits.append(Edit(m.start() + 1, 1, "&#40;" if text[m.start() + 1] == "(" else "&#58;"))
        else:
            assert piece.owner is not None
            more.add(piece.owner)


def escape_unit(text: str, state: BlockState) -> str:
    """``text`` (line ends already ``\\n``) escaped, read from block ``state`` on."""
    return _Unit(text, state).render()


def normalise(text: str) -> str:
    """Line ends as ``\\n``, NUL as U+FFFD (as a browser reads them)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text


def escape_untrusted(markdown: str) -> str:
    """Markdown from a model, made safe to render in a trusted output; it reads the same.

    Raw HTML, unsafe link URLs and the other tricks listed in the package docstring are
    neutralised outside code; code is left as written unless it could be read as HTML, and then
    written as equivalent ``<code>`` HTML. Line endings become ``\\n``.

    Example:
        >>> escape_untrusted("<script>alert(1)</script> is *bold*, a < b, x<y")
        '&lt;script>alert(1)&lt;/script> is *bold*, a < b, x&lt;y'
        >>> escape_untrusted("```html\\n<b>hi</b>\\n```\\n")
        '```html\\n<b>hi</b>\\n```\\n'
    """
    return escape_unit(normalise(markdown), BlockState())
