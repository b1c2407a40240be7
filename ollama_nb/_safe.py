"""Markup that is safe to display: the one way untrusted text becomes Markdown or HTML.

Text from a model, a tool function or an Ollama server (which may be a machine the user does not
control) must never become live markup: JupyterLab does not sanitise the outputs of the running
session, so ``<img src=x onerror=…>`` shown as Markdown or HTML runs in the page. Everything the
package displays as ``text/markdown`` or ``text/html`` is a :class:`SafeMarkdown` or a
:class:`SafeHtml`, built only by these constructors:

=============================  =====================================================================
``SafeMarkdown.escape(text)``   a model's Markdown, formatting kept, HTML and unsafe links neutralised
``SafeMarkdown.text(text)``     any text shown exactly as written (server fields, tool output, names)
``SafeMarkdown.code(text)``     inline code look, shown exactly as written
``SafeMarkdown.pre(text)``      a preformatted block that keeps line breaks
``SafeMarkdown.trusted(s)``     markup the package wrote itself (a literal), or the ``--html`` opt-in
``SafeHtml.escape(text)``       text for an HTML output (``html.escape``)
``SafeHtml.trusted(s)``         HTML the package wrote itself
``terminal_text(text)``         text for a terminal or ``text/plain``: control characters made visible
=============================  =====================================================================

Joining keeps the type: ``a + b``, ``SafeMarkdown.join(parts)`` and ``template.format(...)`` take
only safe parts (and numbers), and raise :class:`TypeError` on a plain ``str``. ``"…" + safe`` and
any ``str`` method (``replace``, slicing…) give a plain ``str`` back, which every builder refuses:
the safe way is the only easy way. Plain text (``text/plain``, a terminal) is never markup, but a
terminal obeys escape sequences (``ESC ]52`` writes the clipboard, ``ESC [2J`` clears the screen,
``ESC ]8`` makes a hidden hyperlink) and Jupyter interprets colour codes in text outputs: every
plain text the package writes goes through :func:`terminal_text`.

Example:
    >>> row = SafeMarkdown.trusted("**{name}** says {what}").format(
    ...     name=SafeMarkdown.text("<img src=x onerror=alert(1)>"), what=SafeMarkdown.code("a|b"))
    >>> print(row)
    **&lt;img src&#61;x onerror&#61;alert&#40;1&#41;&gt;** says <code>a&#124;b</code>
    >>> SafeMarkdown.trusted("x") + "<b>"
    Traceback (most recent call last):
    TypeError: only SafeMarkdown can be joined to SafeMarkdown, not str: build it with SafeMarkdown.text() or .escape()
"""

from __future__ import annotations

import html
import re
import string
from typing import Any, Iterable

__all__ = ["SafeHtml", "SafeMarkdown", "require_safe", "terminal_text"]

# Every ASCII punctuation character that Markdown, GFM tables, JupyterLab's math pre-pass or HTML
# could give a meaning to becomes a numeric entity: it renders as the character itself and can
# start nothing (a tag, a link, emphasis, a code span, a table cell, math, a heading). ``-``, ``+``
# and ``.`` mean something only at the start of a line (a list item), so only there; names such
# as ``llama3.2`` or ``deepseek-r1`` stay readable in the saved notebook.
_TEXT_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in string.punctuation if c not in ",;?%/@:'-+.^"})
_TEXT_ENTITIES.update({ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;"})
_LIST_START = re.compile(r"^([ \t]*)(\d*)([-+.])")
_LINE_BREAKS = {"\r\n": "\n", "\r": "\n", "\x00": "\ufffd"}
_NUMBERS = (int, float)
# Every control character (Unicode category Cc: C0, DEL, C1 — ``\x9b`` is a one-byte CSI) but
# ``\n`` and ``\t`` becomes its Python escape, shown as the four characters ``\x1b``.
_CONTROLS = str.maketrans({c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"})
# Invisible format characters that reorder or hide text (bidi overrides and isolates: "Trojan
# Source"; zero-width spaces, word joiners, BOM, interlinear annotations) become ``\u202e`` and the
# like. Zero-width (non-)joiners stay: scripts and emoji sequences need them.
_FORMATS = (
    0x061C, 0x200B, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0xFEFF, *range(0xFFF9, 0xFFFC)
)
_CONTROLS.update({c: f"\\u{c:04x}" for c in _FORMATS})


def _normalise(text: str) -> str:
    for old, new in _LINE_BREAKS.items():
        text = text.replace(old, new)
    return text


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def _entities(text: str) -> str:
    """``text`` with its Markdown/HTML-special characters as entities (a leading list marker too)."""
    text = _normalise(text).translate(_TEXT_ENTITIES)
    return _LIST_START.sub(lambda m: f"{m.group(1)}{m.group(2)}&#{ord(m.group(3))};", text)


class _Safe(str):
    """A str that is known to be safe markup of one kind; joins only with its own kind."""

    __slots__ = ()

    @classmethod
    def trusted(cls, literal: str) -> Any:
        """Markup the package wrote itself (a literal in the source), or the user's ``--html`` opt-in.

        Never pass text from a model, a tool or a server here.
        """
        return cls(literal)

    def _check(self, other: Any) -> Any:
        if isinstance(other, type(self)):
            return other
        if isinstance(other, _NUMBERS) and not isinstance(other, bool):
            return type(self)(str(other))
        name = type(self).__name__
        how = "SafeMarkdown.text() or .escape()" if name == "SafeMarkdown" else f"{name}.escape()"
        raise TypeError(f"only {name} can be joined to {name}, not {type(other).__name__}: build it with {how}")

    def __add__(self, other: Any) -> Any:
        return type(self)(str.__add__(self, self._check(other)))

    def __radd__(self, other: Any) -> Any:
        if isinstance(other, str) and not isinstance(other, type(self)):
            return NotImplemented  # str + safe is a plain str, which every builder refuses
        return type(self)(str.__add__(self._check(other), self))

    def join(self, parts: Iterable[Any]) -> Any:
        """``sep.join(parts)``: every part must be of this type (or a number)."""
        return type(self)(str.join(self, [self._check(p) for p in parts]))

    def format(self, *args: Any, **kwargs: Any) -> Any:
        """Fill a trusted template with safe values (or numbers) only."""
        return type(self)(
            str.format(self, *(self._check(a) for a in args), **{k: self._check(v) for k, v in kwargs.items()})
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str.__repr__(self)})"


class SafeMarkdown(_Safe):
    """Markdown that renders without running anything (see the module docstring for constructors).

    Example:
        >>> SafeMarkdown.text("a | b <br> `c`")
        SafeMarkdown('a &#124; b &lt;br&gt; &#96;c&#96;')
    """

    __slots__ = ()

    @classmethod
    def escape(cls, markdown: Any) -> SafeMarkdown:
        """A model's Markdown, made inert and otherwise unchanged (``escape_untrusted``).

        Two escaped units may be shown one after the other or joined with a blank line between
        them (``SafeMarkdown.trusted("\\n\\n").join(...)``), never run together.
        """
        from ._markdown import escape_untrusted

        return cls(escape_untrusted(_as_text(markdown)))

    @classmethod
    def text(cls, value: Any) -> SafeMarkdown:
        """Any text, shown exactly as written on one line (line breaks become ``<br>``).

        Fits anywhere inline, table cells included: ``<``, ``>``, ``&``, backticks and pipes show
        literally and nothing in it is Markdown, math (for JupyterLab's Markdown pass nor MathJax)
        or HTML.
        """
        text = _entities(_as_text(value)).replace("\n", "<br>")
        # MathJax typesets the rendered page, where the entities are characters again: a ``$`` or
        # ``\`` alone in a <span> can start no math (MathJax does not match across elements)
        return cls(text.replace("&#36;", "<span>&#36;</span>").replace("&#92;", "<span>&#92;</span>"))

    @classmethod
    def code(cls, value: Any) -> SafeMarkdown:
        """Inline code look (``<code>``), shown exactly as written on one line."""
        return cls("<code>" + _entities(_as_text(value)).replace("\n", " ") + "</code>")

    @classmethod
    def pre(cls, value: Any, *, style: str = "white-space:pre-wrap") -> SafeMarkdown:
        """A preformatted block that keeps line breaks and indentation; written on one line, so no
        Markdown reading can split it. Use it as a block (blank lines around it)."""
        text = _entities(_as_text(value)).replace("\n", "&#10;")
        return cls(f"<pre style='{html.escape(style)}'><code>{text}</code></pre>")


class SafeHtml(_Safe):
    """HTML that runs nothing: literals the package wrote and ``html.escape``-d text.

    Example:
        >>> SafeHtml.trusted("<b>{}</b>").format(SafeHtml.escape("<i>x</i>"))
        SafeHtml('<b>&lt;i&gt;x&lt;/i&gt;</b>')
    """

    __slots__ = ()

    @classmethod
    def escape(cls, value: Any) -> SafeHtml:
        """Text shown exactly as written inside HTML (quotes escaped too, so attributes are safe)."""
        return cls(html.escape(_normalise(_as_text(value)), quote=True))


def terminal_text(value: Any) -> str:
    """``value`` as text that a terminal shows and never obeys: line breaks (``\\r\\n``, ``\\r``)
    become ``\\n``, tabs stay, and every other control character is written visibly as its Python
    escape (``ESC`` as the four characters ``\\x1b``), so no escape sequence reaches the terminal;
    so are invisible format characters that reorder text (a bidi override as ``\\u202e``).

    Example:
        >>> terminal_text("ok\\x1b]52;c;cm0gLXJmIH4=\\x07\\tdone\\r\\n")
        'ok\\\\x1b]52;c;cm0gLXJmIH4=\\\\x07\\tdone\\n'
        >>> print(terminal_text("price \\u202e0001\\u202c"))
        price \\u202e0001\\u202c
    """
    return _as_text(value).replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)


def require_safe(value: Any, kind: type[_Safe] = SafeMarkdown, what: str = "markup") -> Any:
    """``value`` if it is ``kind``; else TypeError naming how to build it (used by every builder).

    Example:
        >>> require_safe("<b>x</b>")
        Traceback (most recent call last):
        TypeError: markup must be SafeMarkdown, not str: wrap untrusted text with SafeMarkdown.text() or .escape()
    """
    if isinstance(value, kind):
        return value
    how = "SafeMarkdown.text() or .escape()" if kind is SafeMarkdown else f"{kind.__name__}.escape()"
    raise TypeError(f"{what} must be {kind.__name__}, not {type(value).__name__}: wrap untrusted text with {how}")
