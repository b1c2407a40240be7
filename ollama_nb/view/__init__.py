"""The view layer: turns a streaming reply into what a person sees.

The only place that imports IPython's display machinery and ipywidgets (lazily). In a Jupyter
kernel the answer is an ordinary display output (Markdown, updated in place, saved in the
notebook) with a Stop button and status line while it streams; in a terminal or where widgets
are missing, text goes to stdout.

Every ``text/markdown`` and ``text/html`` output is built from :class:`SafeMarkdown` /
:class:`SafeHtml` (``markdown_table``, ``markdown_bundle``, ``show_markdown`` refuse a plain str).
"""

from __future__ import annotations

from .._safe import SafeHtml, SafeMarkdown
from ._consume import Interrupted, stream_async, stream_many_async, stream_sync, ui_poller
from ._outputs import html_bundle, markdown_bundle, show_markdown
from ._stream_view import PlainView, StreamView, make_view
from ._tables import markdown_table

__all__ = [
    "Interrupted",
    "PlainView",
    "SafeHtml",
    "SafeMarkdown",
    "StreamView",
    "html_bundle",
    "make_view",
    "markdown_bundle",
    "markdown_table",
    "show_markdown",
    "stream_async",
    "stream_many_async",
    "stream_sync",
    "ui_poller",
]
