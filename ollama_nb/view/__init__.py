"""The view layer: turns a streaming reply into what a person sees.

The only place that imports IPython's display machinery and ipywidgets (lazily). In a Jupyter
kernel the answer is an ordinary display output (Markdown, updated in place, saved in the
notebook) with a Stop button and status line while it streams; in a terminal or where widgets
are missing, text goes to stdout.

The views implement the core's small protocol (:mod:`ollama_nb.view._protocol`: ``add``,
``refresh``, ``finish``), which the reading loops here and the magics use. This package never
imports the magics.

Every ``text/markdown`` and ``text/html`` output is built from :class:`SafeMarkdown` /
:class:`SafeHtml` (``markdown_table``, ``markdown_bundle``, ``show_markdown`` refuse a plain str).
"""

from __future__ import annotations

from .._errors import Interrupted
from .._safe import SafeHtml, SafeMarkdown
from . import _label_view  # noqa: F401  (registers the experiment's label widget)
from ._consume import abort_held_requests, stream_async, stream_many_async, stream_sync, ui_poller
from ._logprobs import logprobs_bundle, logprobs_html, show_logprobs
from ._outputs import html_bundle, markdown_bundle, show_markdown
from ._progress import show_pull
from ._side_by_side import SideBySideView, side_by_side_available
from ._stream_view import PlainView, StreamView, make_view
from ._tables import markdown_table

__all__ = [
    "Interrupted",
    "PlainView",
    "SafeHtml",
    "SafeMarkdown",
    "SideBySideView",
    "StreamView",
    "abort_held_requests",
    "html_bundle",
    "logprobs_bundle",
    "logprobs_html",
    "make_view",
    "markdown_bundle",
    "markdown_table",
    "show_logprobs",
    "show_markdown",
    "show_pull",
    "side_by_side_available",
    "stream_async",
    "stream_many_async",
    "stream_sync",
    "ui_poller",
]
