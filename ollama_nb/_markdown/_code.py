"""Code that could do harm if read as prose, and how it is written instead: one line of inert
HTML (``<pre><code>…</code></pre>`` or ``<code>…</code>``, every special character an entity).

Example:
    >>> is_risky("x = '<b>'"), code_html("<b>", block=False)
    (True, '<code>&lt;b&gt;</code>')
"""

from __future__ import annotations

import re

from ._lines import Fence
from ._prose import fix_definition

# Code that would do harm if read as prose: HTML, or a fence opener whose info string holds a
# quote (JupyterLab writes it into class="language-…" unescaped).
_RISKY_RE = re.compile(r"<[A-Za-z/!?]|(?:```|~~~)[^\n]*\"")

_ENTITIES = str.maketrans(
    {
        "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;",
        "$": "&#36;", "\\": "&#92;", "*": "&#42;", "_": "&#95;", "[": "&#91;", "]": "&#93;",
        "~": "&#126;", "|": "&#124;", "\n": "&#10;",
    }
)  # fmt: skip
_INFO_ENTITIES = str.maketrans({'"': "&quot;", "$": "&#36;", "\\": "&#92;"})


def is_risky(code: str) -> bool:
    """True if ``code``, read as prose, would hold HTML or a fence opener with a quote (lines
    may be joined with ``\n`` and checked at once: no match crosses a line end)."""
    return _RISKY_RE.search(code) is not None


def code_html(code: str, *, block: bool) -> str:
    """``code`` as one line of inert HTML: nothing in it is Markdown, math or markup."""
    if block:
        return "<pre><code>" + code.translate(_ENTITIES) + "</code></pre>"
    return "<code>" + code.translate(_ENTITIES) + "</code>"


def safe_opener(line: str, fence: Fence) -> str:
    """A kept fence's opening line with an info string that can do no harm.

    JupyterLab writes the info string unescaped into ``class="language-…"``, and its math
    pre-pass could start math there that swallows the block; marked does not decode entities
    in it, so ``"``, ``$`` and ``\\`` become entities (a real language name has none of them).
    """
    if not any(ch in fence.info for ch in '"$\\'):
        return line
    cut = len(line) - len(fence.info)
    return line[:cut] + fence.info.translate(_INFO_ENTITIES)


def definition_risk(lines: list[str]) -> bool:
    """True if a code line, read as prose, could start a reference definition."""
    for i, line in enumerate(lines):
        rest = line.lstrip(" \t")
        if rest.startswith("["):
            following = lines[i + 1].lstrip(" \t") if i + 1 < len(lines) else None
            if fix_definition(rest, following) != rest:
                return True
    return False
