"""Make a model's Markdown safe to display, and freeze it block by block while it streams.

A model's reply is untrusted: JupyterLab does not sanitise the outputs of the running session, so
``<img src=x onerror=...>`` in a reply shown as Markdown runs in the page (measured, see
``docs/stopping.md``). :func:`escape_untrusted` returns Markdown that renders the same to a reader
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

The modules, in the order a unit is escaped:

============  ==================================================================================
``_lines``    block structure, one line at a time (``LineKind``, ``BlockState``)
``_prose``    prose outside code: ``<``, ``"``, reference definitions; code spans of a line
``_code``     code that could do harm if read as prose, and the same code as inert HTML
``_urls``     link URLs as a browser reads them (:func:`url_is_safe`)
``_math``     JupyterLab's math pre-pass, and where its math could do harm
``_pieces``   the typed items, segments, pieces and edits of one unit
``_unit``     one unit escaped (:func:`escape_untrusted`)
``_blocks``   a streamed reply cut into frozen blocks and an open tail (:class:`MarkdownBlocks`)
============  ==================================================================================
"""

from __future__ import annotations

from ._blocks import DEFAULT_THRESHOLD, MarkdownBlocks
from ._unit import escape_untrusted
from ._urls import SAFE_URL_SCHEMES, url_is_safe

__all__ = ["DEFAULT_THRESHOLD", "SAFE_URL_SCHEMES", "MarkdownBlocks", "escape_untrusted", "url_is_safe"]
