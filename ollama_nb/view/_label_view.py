"""The blind labelling widget of an experiment: one item at a time, two answers side by side in a
random order and unnamed, and the buttons *A is better*, *B is better*, *tie*, *skip*.

Each click is recorded at once (``Labelling.choose``: the record's ``labels`` table). The item
and the answers are untrusted text: they are escaped into :class:`~ollama_nb._safe.SafeHtml`, so an
answer holding markup shows that markup as text. When every item has been seen the widgets are
closed and a text line takes their place (a saved notebook shows no dead widget).

Example:
    >>> exp.label()          # in a notebook cell, after %load_ext ollama_nb     # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .._safe import SafeHtml, SafeMarkdown
from ..experiment._labelling import CHOICES, Labelling, register_label_widget
from ._controls import widgets_available
from ._outputs import markdown_bundle

__all__ = ["LabelWidget", "show_label_widget"]

BUTTONS = ("A is better", "B is better", "tie", "skip")
_ANSWER = SafeHtml.trusted(
    '<div style="padding:0 8px"><b>{}</b><pre style="white-space:pre-wrap;font-family:inherit">{}</pre></div>')


def _item_text(item: Any) -> str:
    """A DataFrame row as ``col: value`` pairs; anything else as ``str``."""
    items = getattr(item, "items", None)
    if callable(items) and type(item).__module__.split(".")[0] == "pandas":
        return ", ".join(f"{k}: {v}" for k, v in items())
    return str(item)


class LabelWidget:
    """The widget for one :class:`~ollama_nb.experiment.Labelling` pass."""

    def __init__(self, labelling: Labelling) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.labelling = labelling
        self.header = w.HTML()
        self.item = w.HTML()
        self.answer_a = w.HTML(layout=w.Layout(width="50%"))
        self.answer_b = w.HTML(layout=w.Layout(width="50%"))
        self.buttons = [w.Button(description=label, tooltip=label) for label in BUTTONS]
        for button, choice in zip(self.buttons, CHOICES):
            button.on_click(lambda _button, choice=choice: self.choose(choice))
        self.box = w.VBox([self.header, self.item, w.HBox([self.answer_a, self.answer_b]), w.HBox(self.buttons)])
        self.handle = display(self.box, display_id=True)
        self.draw()

    def choose(self, choice: str) -> None:
        self.labelling.choose(choice)
        self.draw()

    def draw(self) -> None:
        task = self.labelling.current
        if task is None:
            self.finish()
            return
        self.header.value = SafeHtml.trusted("<b>Item {}</b> · {}").format(
            SafeHtml.escape(task["index"]), SafeHtml.escape(self.labelling.line()))
        self.item.value = SafeHtml.trusted('<pre style="white-space:pre-wrap">{}</pre>').format(
            SafeHtml.escape(_item_text(task["item"])))
        self.answer_a.value = _ANSWER.format(SafeHtml.escape("A"), SafeHtml.escape(task["answer_a"]))
        self.answer_b.value = _ANSWER.format(SafeHtml.escape("B"), SafeHtml.escape(task["answer_b"]))

    def finish(self) -> None:
        """Every item seen: close the widgets, leave one text line."""
        for widget in [self.header, self.item, self.answer_a, self.answer_b, *self.buttons, self.box]:
            widget.close()
        line = "Labelling done: " + self.labelling.line()
        self.handle.update(markdown_bundle(SafeMarkdown.text(line), line), raw=True)


def show_label_widget(labelling: Labelling) -> Any:
    """Show ``labelling`` as a widget in a kernel; as text elsewhere."""
    if not widgets_available():
        print(repr(labelling))
        return None
    return LabelWidget(labelling)


register_label_widget(show_label_widget)
