"""The widget row shown while a reply streams: a Stop button, a status line, a thinking preview.

Widgets carry only controls and live status; they are closed when the reply ends and their
output is replaced, so a saved notebook never shows a dead widget.
"""

from __future__ import annotations

import html
from typing import Any, Callable


def widgets_available() -> bool:
    """True inside a Jupyter kernel with ipywidgets importable."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or getattr(shell, "kernel", None) is None:
            return False
        import ipywidgets  # noqa: F401
    except Exception:
        return False
    return True


class Controls:
    """Stop button + status + thinking preview in one output; ``close`` replaces it.

    Example:
        >>> controls = Controls(on_stop=reply.stop)          # doctest: +SKIP
        >>> controls.set_status("llama3.2 · 1.2 s · 40 tokens")  # doctest: +SKIP
    """

    def __init__(self, on_stop: Callable[[], None], *, label: str = "Stop") -> None:
        import ipywidgets as w
        from IPython.display import display

        self.button = w.Button(
            description=label,
            icon="stop",
            button_style="danger",
            tooltip="Stop generating (the text so far is kept)",
            layout=w.Layout(width="auto"),
        )
        self.status = w.HTML(value="")
        self.thinking = w.HTML(value="", layout=w.Layout(display="none"))
        self.box = w.VBox([w.HBox([self.button, self.status]), self.thinking])
        self._on_stop = on_stop
        self.button.on_click(self._clicked)
        self.handle = display(self.box, display_id=True)

    def _clicked(self, _button: Any) -> None:
        self.button.disabled = True
        self.button.description = "Stopping…"
        self._on_stop()

    def set_status(self, text: str) -> None:
        value = f"<span style='opacity:.75;padding-left:.5em'>{html.escape(text)}</span>"
        if value != self.status.value:
            self.status.value = value

    def set_thinking(self, preview: str) -> None:
        if preview:
            self.thinking.layout.display = None
            self.thinking.value = (
                "<div style='opacity:.6;font-style:italic;white-space:pre-wrap;max-height:6em;overflow:hidden'>"
                f"{html.escape(preview)}</div>"
            )

    def close(self, replacement: dict[str, str] | None = None) -> None:
        """Close the widgets and replace their output (by default with nothing visible)."""
        for widget in (self.button, self.status, self.thinking, *self.box.children, self.box):
            widget.close()
        if self.handle is not None:
            self.handle.update(replacement or {"text/markdown": "", "text/plain": ""}, raw=True)
