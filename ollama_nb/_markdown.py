"""Make a model's Markdown safe to display, and freeze it block by block while it streams.

A model's reply is untrusted: JupyterLab does not sanitise the outputs of the running session, so
``<img src=x onerror=...>`` in a reply shown as Markdown runs in the page (measured, see
``stop-button.md``). :func:`escape_untrusted` returns Markdown that renders the same to a reader
but cannot run anything; :class:`MarkdownBlocks` cuts a streamed reply into blocks that never
change again plus a short open tail, so a view re-sends O(n) bytes instead of O(n²).

Example:
    >>> escape_untrusted('Hi <img src=x onerror="alert(1)"> and `<b>` [x](javascript:alert(1))')
    'Hi &lt;img src=x onerror=&quot;alert(1)&quot;> and <code>&lt;b&gt;</code> [x]&#40;javascript:alert(1))'

What it changes, and why it holds even where this module reads the Markdown differently from
the renderer: a reply may be written to attack exactly that difference. The renderer aimed at is
JupyterLab 4's (its math pre-pass, then marked 17 with GFM, then the math pasted back); every rule
below was checked against that code, taken from the installed JupyterLab, by rendering fuzzed
attacks through it (see tests/test_markdown.py).

* Prose (outside code): ``<`` before a letter, ``/``, ``!`` or ``?`` becomes ``&lt;`` (also after
  a backslash, which a bare URL before it can swallow), so no tag, comment or
  ``<javascript:…>`` autolink is left; ``<https://…>``, ``<mailto:…>`` and ``<me@example.com>``
  stay links. ``"`` becomes ``&quot;`` (link titles switch to ``'…'``). A link, image or
  reference definition whose URL, read as a browser would (entities and backslash escapes
  decoded, tabs and newlines dropped), has a scheme other than http, https or mailto stops being
  a link: ``](`` becomes ``]&#40;`` and ``]:`` becomes ``]&#58;``, which read the same. A line
  that marked could take for a reference definition running over several lines (it would
  swallow what follows) starts with ``\\[``. ``&`` is left alone: an entity such as
  ``&#60;script&#62;`` renders as text, never as markup, and ``&amp;``, "AT&T" read as meant.
* Code (fenced, indented, inline) is kept byte for byte when it would be harmless even if read
  as prose: no ``<`` + letter, no unsafe link, no reference definition start, no fence opener
  with a ``"`` in its info string. Otherwise it is written as ``<pre><code>…</code></pre>`` or
  ``<code>…</code>`` on one line, every special character an entity: it looks the same
  (without syntax colours) and is inert however it is read. Exception: a top-level fence (at
  column 0, with a language, closed by a bare fence of the same run at column 0, no fence-like
  line inside) is kept as it is whatever it holds, because marked sees exactly that block as
  code whatever came before it. An unclosed fence gets its closing line (it renders the same).
* A kept fence's info string has ``"``, ``$`` and ``\\`` as entities: JupyterLab writes it into
  ``class="language-…"`` unescaped.
* JupyterLab cuts math (``$…$``, ``$$…$$``, ``\\\\(…\\\\)``, ``\\begin{…}``) out before Markdown and
  pastes it back into the HTML afterwards, also into attributes (``alt``, ``href``), where a raw
  ``"`` ends the attribute; and math that starts before a kept fence and ends inside it hides
  the opening line. In a paragraph where either could happen, the math delimiters in prose are
  escaped (``\\$``) and kept code holding some is written as HTML.

Units escaped separately (frozen blocks, tail) may be shown one after the other, or joined with
a blank line between them; text appended to an escaped unit without one may undo the escaping
(see :meth:`MarkdownBlocks.tail_with_cursor`).
"""

from __future__ import annotations

import bisect
import html
import re

__all__ = ["DEFAULT_THRESHOLD", "SAFE_URL_SCHEMES", "MarkdownBlocks", "escape_untrusted", "url_is_safe"]

#: URL schemes a link or image may keep; relative URLs (no scheme) are kept too.
SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto"})
#: Characters of open tail after which :class:`MarkdownBlocks` freezes what it can.
DEFAULT_THRESHOLD = 1500

# ---------------------------------------------------------------------------------------------
# Block structure, one line at a time. This reading only has to be good for looks: safety does
# not depend on it (see the module docstring), except for the top-level fences kept verbatim,
# whose conditions are checked separately in `_fence_is_anchored`.

_BLANK, _PROSE, _FENCE_OPEN, _FENCE_BODY, _FENCE_CLOSE, _INDENTED = range(6)
# What the previous line was, for indented code (which cannot interrupt a paragraph).
_AFTER_BLANK, _AFTER_PARA, _AFTER_BLOCK, _AFTER_INDENTED = range(4)

_BLANK_RE = re.compile(r"[ \t]*\Z")
_FENCE_RE = re.compile(r"(`{3,}|~{3,})(.*)\Z", re.S)
_FENCE_TAIL_RE = re.compile(r"[~`]*[ \t]*\Z")
_FENCE_LIKE_RE = re.compile(r" {0,3}(?:`{3,}|~{3,})[~`]*[ \t]*\Z")
_LIST_RE = re.compile(r"([-+*]|\d{1,9}[.)])(?:([ \t]+)|\Z)")
_THEMATIC_RE = re.compile(r"([-*_])(?:[ \t]*\1){2,}[ \t]*\Z")
_HEADING_RE = re.compile(r"#{1,6}(?:[ \t]|\Z)")
_TABLE_DELIMITER_RE = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*\Z")
_SETEXT_UNDERLINE_RE = re.compile(r" {0,3}(?:=+|-+)[ \t]*\Z")
_SENTENCE_END_RE = re.compile(r"[.!?:;] (?=[^\W\d_])")


class _Fence:
    """An open fenced code block: where it sits and how it was opened."""

    __slots__ = ("indent", "base", "run", "info", "opener")

    def __init__(self, indent: int, base: int, run: str, info: str, opener: str) -> None:
        self.indent = indent  # columns before the fence run
        self.base = base  # content column of the list item holding it (0 at top level)
        self.run = run  # "```", "~~~~", ...
        self.info = info
        self.opener = opener  # the opening line as written

    def closes(self, line: str) -> bool:
        """True if ``line`` ends this block (marked's rule: the same run, then only ~ ` and spaces)."""
        if self.run[0] not in line or _indent(line) > self.base + 3:
            return False
        rest = line.lstrip(" \t")
        return rest.startswith(self.run) and _FENCE_TAIL_RE.match(rest, len(self.run)) is not None

    def closing_line(self) -> str:
        return " " * self.indent + self.run


class _State:
    """Block state between two lines: an open fence, what came before, the list item column."""

    __slots__ = ("fence", "after", "list_col")

    def __init__(self, fence: _Fence | None = None, after: int = _AFTER_BLANK, list_col: int = -1) -> None:
        self.fence = fence
        self.after = after
        self.list_col = list_col

    def copy(self) -> _State:
        return _State(self.fence, self.after, self.list_col)


def _indent(line: str) -> int:
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


def _strip_columns(line: str, columns: int) -> str:
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


def _step(st: _State, line: str) -> int:
    """Classify ``line`` (one of the ``_BLANK`` ... kinds) and advance ``st`` past it."""
    fence = st.fence
    if fence is not None:
        if fence.closes(line):
            st.fence = None
            st.after = _AFTER_BLOCK
            return _FENCE_CLOSE
        return _FENCE_BODY
    if line[:1].isalpha():  # the common prose line: no block syntax can start with a letter
        if st.list_col > 0 and st.after == _AFTER_BLANK:
            st.list_col = -1
        st.after = _AFTER_PARA
        return _PROSE
    if _BLANK_RE.match(line):
        st.after = _AFTER_BLANK
        return _BLANK
    ind = _indent(line)
    rest = line.lstrip(" \t") if ind else line
    if st.list_col >= 0 and ind < st.list_col and (st.after == _AFTER_BLANK or _starts_block(rest)):
        st.list_col = -1
    base = st.list_col if st.list_col >= 0 else 0
    if ind >= base + 4:
        if st.after == _AFTER_PARA:  # a lazy continuation line of the paragraph
            return _PROSE
        st.after = _AFTER_INDENTED
        return _INDENTED
    m = _FENCE_RE.match(rest)
    if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
        st.fence = _Fence(ind, base, m.group(1), m.group(2), line)
        st.after = _AFTER_BLOCK
        return _FENCE_OPEN
    if _THEMATIC_RE.match(rest) or _HEADING_RE.match(rest):
        st.after = _AFTER_BLOCK
        return _PROSE
    m = _LIST_RE.match(rest)
    if m:
        gap = _indent(" " * (ind + len(m.group(1))) + (m.group(2) or "")) - ind - len(m.group(1))
        st.list_col = ind + len(m.group(1)) + (gap if 1 <= gap <= 4 else 1)
    st.after = _AFTER_PARA
    return _PROSE


def _fence_is_anchored(fence: _Fence, body: list[str], closer: str) -> bool:
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


# ---------------------------------------------------------------------------------------------
# Prose.

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
# Code that would do harm if read as prose: HTML, or a fence opener whose info string holds a
# quote (JupyterLab writes it into class="language-…" unescaped).
_RISKY_RE = re.compile(r"<[A-Za-z/!?]|(?:```|~~~)[^\n]*\"")
_PROSE_SPECIAL_RE = re.compile(r"[<\"`]|^ {0,3}\[")


def _requote(title: str) -> str | None:
    """A ``"title"`` in another quote, so that no raw ``"`` is left; None if impossible."""
    inner = title[1:-1]
    if "'" not in inner:
        return "'" + inner + "'"
    if "(" not in inner and ")" not in inner:
        return "(" + inner + ")"
    return None


def _fix_definition(line: str, next_line: str | None) -> str:
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


def _escape_text(text: str) -> str:
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


def _code_spans(line: str) -> list[tuple[int, int, int]]:
    """Code spans of one line as (start, end, backtick run length), CommonMark's matching."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS_RE.finditer(line)]
    if len(runs) < 2:
        return []
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    spans: list[tuple[int, int, int]] = []
    done = 0  # end of the last span: backslashes before it do not escape
    for index, (start, end) in enumerate(runs):
        if start < done:
            continue
        back = start
        while back > done and line[back - 1] == "\\":
            back -= 1
        if (start - back) % 2:
            start += 1  # the first backtick is escaped; the rest of the run may open a span
        size = end - start
        if size == 0:
            continue
        candidates = by_length.get(size, [])
        k = bisect.bisect_right(candidates, index)
        if k == len(candidates):
            continue
        close_start, close_end = runs[candidates[k]]
        spans.append((start, close_end, size))
        done = close_end
    return spans


# ---------------------------------------------------------------------------------------------
# Code that has to be written as HTML.

_ENTITIES = str.maketrans(
    {
        "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;",
        "$": "&#36;", "\\": "&#92;", "*": "&#42;", "_": "&#95;", "[": "&#91;", "]": "&#93;",
        "~": "&#126;", "|": "&#124;", "\n": "&#10;",
    }
)  # fmt: skip


def _code_html(code: str, *, block: bool) -> str:
    """``code`` as one line of inert HTML: nothing in it is Markdown, math or markup."""
    if block:
        return "<pre><code>" + code.translate(_ENTITIES) + "</code></pre>"
    return "<code>" + code.translate(_ENTITIES) + "</code>"


_INFO_ENTITIES = str.maketrans({'"': "&quot;", "$": "&#36;", "\\": "&#92;"})


def _safe_opener(line: str, fence: _Fence) -> str:
    """A kept fence's opening line with an info string that can do no harm.

    JupyterLab writes the info string unescaped into ``class="language-…"``, and its math
    pre-pass could start math there that swallows the block; marked does not decode entities
    in it, so ``"``, ``$`` and ``\\`` become entities (a real language name has none of them).
    """
    if not any(ch in fence.info for ch in '"$\\'):
        return line
    cut = len(line) - len(fence.info)
    return line[:cut] + fence.info.translate(_INFO_ENTITIES)


def _definition_risk(lines: list[str]) -> bool:
    """True if a code line, read as prose, could start a reference definition."""
    for i, line in enumerate(lines):
        rest = line.lstrip(" \t")
        if rest.startswith("["):
            following = lines[i + 1].lstrip(" \t") if i + 1 < len(lines) else None
            if _fix_definition(rest, following) != rest:
                return True
    return False


# ---------------------------------------------------------------------------------------------
# URLs.

_CONTROL_RE = re.compile(r"[\t\n\r]")
_BACKSLASH_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")
_LINK_MARK_RE = re.compile(r"\](?:\(|:)")
_NON_SPACE_RE = re.compile(r"\S*")
_URL_LEADING = "".join(map(chr, range(33))) + "<"  # a browser drops C0 controls and spaces


def url_is_safe(url: str) -> bool:
    """True if a browser would not run or hand off ``url`` (http, https, mailto or relative).

    Example:
        >>> url_is_safe("https://ollama.com"), url_is_safe("#notes"), url_is_safe("JaVa&#115;cript:x")
        (True, True, False)
    """
    if "&" not in url and "\\" not in url:
        variants = {url}
    else:
        once = html.unescape(url)
        variants = {
            url,
            once,
            html.unescape(once),
            _BACKSLASH_ESCAPE_RE.sub(r"\1", url),
            html.unescape(_BACKSLASH_ESCAPE_RE.sub(r"\1", url)),
            _BACKSLASH_ESCAPE_RE.sub(r"\1", once),
        }
    for variant in variants:
        text = _CONTROL_RE.sub("", variant).lstrip(_URL_LEADING).lower()
        colon = text.find(":")
        if colon < 0:
            continue
        path = min((p for p in (text.find("/"), text.find("?"), text.find("#")) if p >= 0), default=len(text))
        if colon < path and text[:colon] not in SAFE_URL_SCHEMES:
            return False
    return True


def _destination_is_safe(text: str, pos: int) -> bool:
    """Check the URL after ``](`` or ``]:`` ending at ``pos`` (it may start on the next line)."""
    n = len(text)
    while pos < n and text[pos] in " \t":
        pos += 1
    if pos < n and text[pos] == "\n":
        pos += 1
        while pos < n and text[pos] in " \t":
            pos += 1
    word = _NON_SPACE_RE.match(text, pos)
    candidates = [word.group() if word else ""]
    if text.startswith("<", pos):
        end = text.find(">", pos)
        stop = text.find("\n", pos)
        if end < 0 or (0 <= stop < end):
            end = stop if stop >= 0 else n
        candidates.append(text[pos : end + 1])
    return all(url_is_safe(candidate) for candidate in candidates)


# ---------------------------------------------------------------------------------------------
# JupyterLab's math pre-pass (rendermime's removeMath): `$`, `$$`, `\\(`, `\\[` and `\begin{`
# start math, which cannot cross a blank line; `\$` is an escaped dollar.

_MATH_TOKEN_RE = re.compile(r"\n[ \t]*(?=\n)|\\\\[(\[)\]]|\\(?:begin|end)\{|\\\$|\$\$?|\"")


# ---------------------------------------------------------------------------------------------
# One unit (a frozen block, the tail, or a whole text).

_P, _C, _A, _H, _N = range(5)  # prose, code kept as is, anchored fence, our HTML, line breaks


class _Unit:
    """Escape one unit of Markdown; see the module docstring for what and why."""

    def __init__(self, text: str, state: _State) -> None:
        self.ends_with_newline = text.endswith("\n")
        lines = text.split("\n")
        if self.ends_with_newline:
            lines.pop()
        self.lines = lines
        st = state.copy()
        kinds = []
        bases = []
        fences: dict[int, _Fence] = {}
        for index, line in enumerate(lines):
            kind = _step(st, line)
            kinds.append(kind)
            bases.append(st.list_col if st.list_col >= 0 else 0)
            if kind == _FENCE_OPEN:
                assert st.fence is not None
                fences[index] = st.fence
        # items: ("blank", text) | ("prose", index) | ("fence", index, end, fence, anchored, risky)
        #        | ("indented", index, end, base, risky); end is exclusive of the closing line.
        items: list[tuple] = []
        i, n = 0, len(lines)
        while i < n:
            kind = kinds[i]
            if kind == _BLANK:
                items.append(("blank", lines[i]))
                i += 1
            elif kind == _PROSE:
                items.append(("prose", i))
                i += 1
            elif kind == _FENCE_OPEN:
                j = i + 1
                while j < n and kinds[j] == _FENCE_BODY:
                    j += 1
                fence = fences[i]
                body = lines[i + 1 : j]
                closer = lines[j] if j < n else fence.closing_line()
                anchored = _fence_is_anchored(fence, body, closer)
                risky = not anchored and (
                    any(_RISKY_RE.search(x) for x in (_safe_opener(lines[i], fence), closer, *body))
                    or _definition_risk(body)
                )
                items.append(("fence", i, j, fence, anchored, risky))
                i = j + 1
            elif kind == _INDENTED:
                j = i + 1
                while j < n and kinds[j] == _INDENTED:
                    j += 1
                block = lines[i:j]
                risky = any(_RISKY_RE.search(x) for x in block) or _definition_risk(block)
                items.append(("indented", i, j, bases[i], risky))
                i = j
            else:  # a body line with no opener in this unit: cannot happen (units start outside)
                raise AssertionError("a unit must not start inside a fenced block")
        self.items = items
        self._prose: dict[int, list[tuple]] = {}

    def _prose_segments(self, index: int) -> list[tuple]:
        """("p", escaped) and ("s", raw span, html span, risky) pieces of one prose line."""
        cached = self._prose.get(index)
        if cached is not None:
            return cached
        line = self.lines[index]
        if not _PROSE_SPECIAL_RE.search(line):
            segments: list[tuple] = [("p", line)]
        else:
            following = self.lines[index + 1] if index + 1 < len(self.lines) else None
            line = _fix_definition(line, following)
            segments = []
            pos = 0
            if "`" in line:
                # marked may read the line as a fence opener (behind list markers we do not
                # follow); a quote in a kept span would then end up in class="language-…".
                fence_like = "```" in line or "~~~" in line
                for start, end, size in _code_spans(line):
                    segments.append(("p", _escape_text(line[pos:start])))
                    raw = line[start:end]
                    content = raw[size:-size]
                    if len(content) >= 2 and content[0] == content[-1] == " " and content.strip(" "):
                        content = content[1:-1]
                    risky = bool(_RISKY_RE.search(raw)) or (fence_like and '"' in raw)
                    segments.append(("s", raw, _code_html(content, block=False), risky, start))
                    pos = end
            segments.append(("p", _escape_text(line[pos:])))
        self._prose[index] = segments
        return segments

    def _pieces(self, forced: set) -> list[tuple[int, str, object]]:
        pieces: list[tuple[int, str, object]] = []
        add = pieces.append
        lines = self.lines
        for item in self.items:
            if pieces:
                add((_N, "\n", None))
            tag = item[0]
            if tag == "blank":
                add((_N, item[1], None))
            elif tag == "prose":
                index = item[1]
                for seg in self._prose_segments(index):
                    if seg[0] == "p":
                        if seg[1]:
                            add((_P, seg[1], None))
                    else:
                        owner = ("s", index, seg[4])
                        if seg[3] or owner in forced:
                            add((_H, seg[2], None))
                        else:
                            add((_C, seg[1], owner))
            elif tag == "fence":
                _, i, j, fence, anchored, risky = item
                body = lines[i + 1 : j]
                closer = lines[j] if j < len(lines) else fence.closing_line()
                owner = ("f", i)
                opener = _safe_opener(lines[i], fence)
                if anchored:
                    add((_A, "\n".join([opener, *body, closer]), owner))
                elif risky or owner in forced:
                    code = "".join(_strip_columns(x, fence.indent) + "\n" for x in body)
                    add((_H, " " * fence.indent + _code_html(code, block=True), None))
                else:
                    add((_C, "\n".join([opener, *body, closer]), owner))
            else:
                _, i, j, base, risky = item
                owner = ("i", i)
                if risky or owner in forced:
                    code = "".join(_strip_columns(x, base + 4) + "\n" for x in lines[i:j])
                    add((_H, " " * base + _code_html(code, block=True), None))
                else:
                    add((_C, "\n".join(lines[i:j]), owner))
        return pieces

    def render(self) -> str:
        forced: set = set()
        while True:
            pieces = self._pieces(forced)
            text = "".join(p[1] for p in pieces)
            starts = []
            pos = 0
            for p in pieces:
                starts.append(pos)
                pos += len(p[1])
            edits: list[tuple[int, int, str]] = []
            more: set = set()
            if "]" in text:
                self._check_links(text, pieces, starts, edits, more)
            if "$" in text or "\\" in text:
                self._check_math(text, pieces, starts, edits, more)
            if not more:
                break
            forced |= more
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

    @staticmethod
    def _check_links(text: str, pieces: list, starts: list[int], edits: list, more: set) -> None:
        for m in _LINK_MARK_RE.finditer(text):
            piece = pieces[bisect.bisect_right(starts, m.start()) - 1]
            if piece[0] in (_A, _H, _N) or _destination_is_safe(text, m.end()):
                continue
            if piece[0] == _P:
                edits.append((m.start() + 1, 1, "&#40;" if text[m.start() + 1] == "(" else "&#58;"))
            else:
                more.add(piece[2])

    @staticmethod
    def _check_math(text: str, pieces: list, starts: list[int], edits: list, more: set) -> None:
        """Escape math delimiters where JupyterLab's math pre-pass could do harm (per paragraph).

        Delimiters in prose and kept code (`outer`) may start math; in an anchored fence only
        the backslash ones count (its ``$`` are protected by the pre-pass). Harm: math from an
        outer delimiter over a raw ``"`` (it could be pasted into an attribute), or into an
        anchored fence (it would hide the opening line). Then every outer delimiter of the
        paragraph is escaped, or its kept code written as HTML; math that starts inside an
        anchored fence stays inside code for marked and is harmless.
        """

        def settle(outer: list[tuple[int, str, tuple]], inner: list[tuple[int, int]], quotes: list[int]) -> None:
            if not outer:
                return
            first = outer[0][0]
            last = max(outer[-1][0], inner[-1][0] if inner else -1)
            harmful = any(first < q < last for q in quotes) or any(first < begin for _, begin in inner)
            if not harmful:
                return
            for at, token, piece in outer:
                if piece[0] == _C:
                    more.add(piece[2])
                elif token[0] == "$":
                    edits.extend((at + k, 0, "\\") for k in range(len(token)))
                elif token.startswith("\\\\"):
                    edits.append((at + 2, 1, "&#40;" if token[2] in "()" else "&#91;"))
                else:
                    edits.append((at, 1, "&#92;"))

        outer: list[tuple[int, str, tuple]] = []
        inner: list[tuple[int, int]] = []  # (position, start of its anchored fence)
        quotes: list[int] = []
        for m in _MATH_TOKEN_RE.finditer(text):
            token = m.group()
            if token[0] == "\n":
                settle(outer, inner, quotes)
                outer, inner, quotes = [], [], []
                continue
            at = m.start()
            index = bisect.bisect_right(starts, at) - 1
            piece = pieces[index]
            kind = piece[0]
            if kind in (_H, _N) or token == "\\$":
                continue
            if token == '"':
                quotes.append(at)
            elif kind != _A:
                outer.append((at, token, piece))
            elif token[0] == "\\":
                inner.append((at, starts[index]))
        settle(outer, inner, quotes)


def _escape_unit(text: str, state: _State) -> str:
    return _Unit(text, state).render()


def _normalise(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text


def escape_untrusted(markdown: str) -> str:
    """Markdown from a model, made safe to render in a trusted output; it reads the same.

    Raw HTML, unsafe link URLs and the other tricks listed in the module docstring are
    neutralised outside code; code is left as written unless it could be read as HTML, and then
    written as equivalent ``<code>`` HTML. Line endings become ``\\n``.

    Example:
        >>> escape_untrusted("<script>alert(1)</script> is *bold*, a < b, x<y")
        '&lt;script>alert(1)&lt;/script> is *bold*, a < b, x&lt;y'
        >>> escape_untrusted("```html\\n<b>hi</b>\\n```\\n")
        '```html\\n<b>hi</b>\\n```\\n'
    """
    return _escape_unit(_normalise(markdown), _State())


# ---------------------------------------------------------------------------------------------
# Streaming.


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
    a sentence. Each block is then escaped on its own and safe shown on its own, but the blocks
    joined are not the escape of the whole: show each in its own output, and the whole text,
    escaped once, when it ends.

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

    def __init__(self, threshold: int = DEFAULT_THRESHOLD, *, escape: bool = True, split_anywhere: bool = False) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1 character, not {threshold!r}")
        self.threshold = threshold
        self.escape = escape
        self.split_anywhere = split_anywhere
        self._line_cut = 0  # with split_anywhere: lines[:line_cut] may freeze before a non-blank line
        self._line_cut_state = _State()
        self._line_tried = 0  # tail size at the last try to cut inside the open line
        self._lines: list[str] = []  # complete lines of the open tail
        self._partial: list[str] = []  # pieces of its unfinished last line
        self._size = 0  # characters in the open tail
        self._start = _State()  # block state where the open tail begins
        self._state = _State()  # block state after its last complete line
        self._cut = 0  # lines[:cut] end with the last blank line we may freeze at (0: none)
        self._cut_state = self._start
        self._has_text = False  # a non-blank line is open (a blank line after it is a cut)
        self._fence_line = -1  # index of the open fence's opening line in lines
        self._table: tuple[str, str] | None = None  # header and delimiter rows of an open table
        self._table_rows = 0  # complete body rows of that table in lines
        self._previous: tuple[int, str] = (_BLANK, "")  # kind and text of the last line
        self._carriage_return = False  # the last delta ended in "\r"
        self._closed = False
        self._slow = False  # closed, or a "\r" pending: feed takes the careful path
        self._may_freeze = False  # a line ended since the last attempt to freeze
        self._tail: str | None = None  # cache of the escaped tail
        self._inserted: list[tuple[int, str]] = []  # (offset in the emitted raw text, lines added)
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
            text_delta = _normalise(text_delta)
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
        if self.split_anywhere and index and previous_kind != _BLANK and self._splits_before(line, previous_kind, previous):
            self._line_cut = index
            self._line_cut_state = self._state.copy()
        kind = _step(self._state, line)
        self._previous = (kind, line)
        if kind == _BLANK:
            if self._has_text:
                self._cut = index + 1
                self._cut_state = self._state.copy()
            self._table = None
            return
        self._has_text = True
        if kind == _FENCE_OPEN:
            self._fence_line = index
        elif kind == _FENCE_CLOSE:
            self._fence_line = -1
        if kind != _PROSE:
            self._table = None
        elif self._table is not None:
            self._table_rows += 1
        elif previous_kind == _PROSE and "|" in previous and _TABLE_DELIMITER_RE.match(line):
            self._table = (previous, line)
            self._table_rows = 0

    def _splits_before(self, line: str, previous_kind: int, previous: str) -> bool:
        """True if the tail may be cut before ``line`` (the line before it is not blank).

        Not inside a fence or a table, not before a table's delimiter row or a setext underline,
        and not before a line that would read as indented code on its own.
        """
        if self._state.fence is not None or self._table is not None or _BLANK_RE.match(line) or _indent(line) >= 4:
            return False
        if _SETEXT_UNDERLINE_RE.match(line):
            return False
        return not (previous_kind == _PROSE and "|" in previous and _TABLE_DELIMITER_RE.match(line))

    def _may_split_before_open_line(self) -> bool:
        """True if the tail may be cut before its unfinished line (which cannot turn out to be a
        setext underline or a table's delimiter row: it has a character neither may hold)."""
        line = "".join(self._partial)
        previous_kind, previous = self._previous
        return (
            bool(line.strip(" \t=-|:"))
            and previous_kind != _BLANK
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
        return _escape_unit(raw, self._start) if self.escape else raw

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
            self._inserted.append((self._emitted - len(closer) - 1, closer + "\n\n" + fence.opener + "\n"))
            after = self._state.copy()
            after.fence, after.after = None, _AFTER_BLOCK
            self._restart(["", fence.opener], after, rescan=True)
            self._tail_added = len(fence.opener) + 2
        elif self._table is not None and self._table_rows and self._size > (1 if self.split_anywhere else 4) * limit:
            header, delimiter = self._table
            frozen.append(self._emit(self._lines))
            self._inserted.append((self._emitted, "\n" + header + "\n" + delimiter + "\n"))
            self._restart(["", header, delimiter], self._state.copy(), rescan=True)
            self._tail_added = len(header) + len(delimiter) + 3
        return frozen

    def _split_line(self) -> str | None:
        """Freeze the open line up to its last sentence end (after ``". "`` and the like, outside
        code spans, math and link brackets as far as a count can tell); None if there is none."""
        line = "".join(self._partial)
        self._line_tried = self._size
        if _indent(line) >= 4 or line.lstrip(" ").startswith("|"):
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

    def _restart(self, lines: list[str], state: _State, *, rescan: bool) -> None:
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
            self._previous = (_BLANK, "")
            for line in lines:
                self._end_line(line)
        else:  # lines were already read; only positions move
            dropped = len(self._lines) - len(lines)
            self._line_cut = self._line_cut - dropped if self._line_cut > dropped else 0
            self._lines = lines
            self._has_text = any(not _BLANK_RE.match(line) for line in lines)
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
    def tail(self) -> str:
        """The open rest, escaped, for the live display (an open fence gets its closing line)."""
        if self._tail is None:
            raw = self._raw_tail()
            self._tail = _escape_unit(raw, self._start) if self.escape else raw
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
        return _escape_unit(_normalise(raw), self._start) if self.escape else raw

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
