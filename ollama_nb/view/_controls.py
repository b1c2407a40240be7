"""The widget row shown while a reply streams: a Stop button, a status line, a thinking preview.

Widgets carry only controls and live status; they are closed when the reply ends and their
output is replaced, so a saved notebook never shows a dead widget.
"""

from __future__ import annotations

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
    """The Stop button, in an output of its own; ``close`` replaces that output.

    Only a button: the live status goes with the answer's tail (no extra widget traffic).

    Example:
        >>> controls = Controls(on_stop=reply.stop)          # doctest: +SKIP
        >>> controls.close()                                  # doctest: +SKIP
    """

    def __init__(self, on_stop: Callable[[], None], *, label: str = "Stop") -> None:
        import ipywidgets as w
        from IPython.display import display

        self.button = w.Button(
            description=label,
            icon="stop",
            button_style="danger",
            tooltip="Stop generating (the text so far is kept)",
        )
        self._on_stop = on_stop
        self.button.on_click(self._clicked)
        self.handle = display(self.button, display_id=True)

    def _clicked(self, _button: Any) -> None:
        self._on_stop()
        self.button.disabled = True
        self.button.description = "Stopping…"

    def close_widgets(self) -> None:
        """Close the button with its layout and style models (its output is left as it is)."""
        for model in (self.button.layout, self.button.style, self.button):
            model.close()

    def close(self, replacement: dict[str, str] | None = None) -> None:
        """Close the button (with its layout and style models) and replace its output."""
        self.close_widgets()
        if self.handle is not None:
            self.handle.update(replacement or {"text/markdown": "", "text/plain": ""}, raw=True)
