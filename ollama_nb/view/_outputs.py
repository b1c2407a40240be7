"""Display bundles built only from safe markup: the one door to ``text/markdown`` and ``text/html``.

Example:
    >>> markdown_bundle(SafeMarkdown.text("a < b"))
    {'text/markdown': 'a &lt; b', 'text/plain': 'a < b'}
    >>> markdown_bundle("a < b")
    Traceback (most recent call last):
    TypeError: text/markdown must be SafeMarkdown, not str: wrap untrusted text with SafeMarkdown.text() or .escape()
"""

from __future__ import annotations

import html
import re
from typing import Any

from .._safe import SafeHtml, SafeMarkdown, require_safe, terminal_text

__all__ = ["html_bundle", "markdown_bundle", "plain_bundle", "plain_text", "show_markdown"]

_OUR_TAGS = re.compile(r"<br>|</?code>|<pre[^>]*>|</pre>|</?sub>|<span[^>]*>|</span>")


def plain_text(markdown: SafeMarkdown) -> str:
    """A readable plain-text form of markup built by :class:`SafeMarkdown` (for ``text/plain``)."""
    return html.unescape(_OUR_TAGS.sub(lambda m: "\n" if m.group() == "<br>" else "", markdown))


def plain_bundle(text: str) -> dict[str, str]:
    """``{"text/plain": …}`` with every control character made visible (:func:`terminal_text`): a
    terminal prints it as it is and Jupyter interprets escape sequences in text outputs.

    Example:
        >>> plain_bundle("a\x1b[2Jb")
        {'text/plain': 'a\\\\x1b[2Jb'}
    """
    return {"text/plain": terminal_text(text)}


def markdown_bundle(markdown: SafeMarkdown, plain: str | None = None) -> dict[str, str]:
    """``{"text/markdown": …, "text/plain": …}``; ``markdown`` must be SafeMarkdown."""
    require_safe(markdown, SafeMarkdown, "text/markdown")
    return {"text/markdown": str(markdown), **plain_bundle(plain_text(markdown) if plain is None else plain)}


def html_bundle(markup: SafeHtml, plain: str) -> dict[str, str]:
    """``{"text/html": …, "text/plain": …}``; ``markup`` must be SafeHtml."""
    require_safe(markup, SafeHtml, "text/html")
    return {"text/html": str(markup), **plain_bundle(plain)}


def show_markdown(markdown: SafeMarkdown, plain: str | None = None, **display_options: Any) -> Any:
    """Display safe Markdown as an output (returns the display handle when ``display_id`` is given)."""
    from IPython.display import display

    return display(markdown_bundle(markdown, plain), raw=True, **display_options)
