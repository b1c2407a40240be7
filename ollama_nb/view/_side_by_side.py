"""Several models, one prompt, side by side: live columns, then a comparison table.

The quickest way to choose a local model: the same prompt streams to each model at once; the
columns show each answer as it arrives (escaped text, never raw HTML), and the table compares
time to first token, tokens, tokens/s and wall time.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from .._safe import SafeHtml, SafeMarkdown
from ..client import BaseReply, Chunk
from ._controls import Controls, widgets_available
from ._outputs import html_bundle, markdown_bundle
from ._stream_view import reply_metadata
from ._tables import markdown_table

_LIVE_TAIL = 1200


def comparison_rows(replies: Sequence[BaseReply]) -> list[dict[str, Any]]:
    """One row per model: first token, tokens, tok/s, wall time, outcome."""
    rows = []
    for reply in replies:
        t = reply.timing
        outcome = "error" if reply.error else "stopped" if reply.stopped else (reply.done_reason or "done")
        rows.append(
            {
                "model": SafeMarkdown.text(reply.model),
                "first token (s)": t.ttft_s,
                "tokens": t.output_tokens,
                "tok/s": t.tokens_per_s,
                "wall (s)": t.wall_s,
                "outcome": SafeMarkdown.text(outcome),
            }
        )
    return rows


class SideBySideView:
    """Columns of streaming answers in one display output, then a comparison table."""

    def __init__(
        self,
        models: Sequence[str],
        *,
        on_stop: Callable[[], None] | None = None,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from IPython.display import display

        self._display = display
        self.models = list(models)
        self.interval = interval
        self.clock = clock
        self.reply: Sequence[BaseReply] | None = None
        self._texts: list[list[str]] = [[] for _ in models]
        self._last = clock()
        self._dirty = False
        self._controls = None
        if on_stop is not None and widgets_available():
            try:
                self._controls = Controls(on_stop, label="Stop all")
            except Exception:
                self._controls = None
        self._handle = display(self._bundle(live=True), raw=True, display_id=True)

    def add(self, chunks: Sequence[Chunk], index: int = 0) -> None:
        for chunk in chunks:
            if chunk.content:
                self._texts[index].append(chunk.content)
                self._dirty = True

    def _bundle(self, *, live: bool) -> dict[str, str]:
        column = SafeHtml.trusted(
            "<div style='flex:1 1 0;min-width:12em'>"
            "<div style='font-weight:bold;border-bottom:1px solid #8884;margin-bottom:.3em'>{model}</div>"
            "<div class='tex2jax_ignore mathjax_ignore' style='white-space:pre-wrap'>{text}{cursor}</div></div>"
        )
        columns = []
        plain = []
        for model, pieces in zip(self.models, self._texts):
            text = "".join(pieces)
            shown = ("…" + text[-_LIVE_TAIL:]) if live and len(text) > _LIVE_TAIL else text
            cursor = SafeHtml.trusted(" ▍" if live else "")
            columns.append(column.format(model=SafeHtml.escape(model), text=SafeHtml.escape(shown), cursor=cursor))
            plain.append(f"=== {model} ===\n{shown}")  # live: the tail only, as in the HTML
        row = SafeHtml.trusted("<div style='display:flex;gap:1.5em;align-items:flex-start'>{}</div>")
        return html_bundle(row.format(SafeHtml.trusted("").join(columns)), "\n\n".join(plain))

    def refresh(self, *, force: bool = False) -> bool:
        now = self.clock()
        if not force and (not self._dirty or now - self._last < self.interval):
            return False
        self._last = now
        self._dirty = False
        self._handle.update(self._bundle(live=True), raw=True)
        return True

    def finish(self, replies: Sequence[BaseReply]) -> None:
        metadata = {"ollama_nb": {"side_by_side": [reply_metadata(r) for r in replies]}}
        self._handle.update(self._bundle(live=False), raw=True, metadata=metadata)
        if self._controls is not None:
            self._controls.close()
        rows = comparison_rows(replies)
        self._display(markdown_bundle(markdown_table(rows)), raw=True, metadata=metadata)


def side_by_side_available() -> bool:
    """Columns need a Jupyter front end; elsewhere the answers are printed one after another."""
    return widgets_available()
