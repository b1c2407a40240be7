"""The view layer: turns a streaming reply into what a person sees.

The only place that imports IPython's display machinery and ipywidgets (lazily). In a Jupyter
kernel the answer is an ordinary display output (Markdown, updated in place, saved in the
notebook) with a Stop button and status line while it streams; in a terminal or where widgets
are missing, text goes to stdout.
"""

from __future__ import annotations

from ._consume import Interrupted, stream_async, stream_many_async, stream_sync, ui_poller
from ._logprobs import logprobs_html
from ._stream_view import PlainView, StreamView, make_view
from ._tables import markdown_table

__all__ = [
    "Interrupted",
    "PlainView",
    "StreamView",
    "logprobs_html",
    "make_view",
    "markdown_table",
    "stream_async",
    "stream_many_async",
    "stream_sync",
    "ui_poller",
]
