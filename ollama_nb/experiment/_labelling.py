"""Blind pairwise labels of an experiment's answers: :class:`LabelMethods` (``add_label``,
``label``, ``label_tasks``, ``leaderboard`` of :class:`~ollama_nb.Experiment`) and
:class:`Labelling`, one labelling pass that the notebook shows as a widget.

The core knows nothing of Jupyter: the view registers the widget with :func:`register_label_widget`
when it is imported (the ``%load_ext ollama_nb`` extension does); without it a
:class:`Labelling` is driven from code (``choose("A")``) and shows as text.

Example:
    >>> pass_ = exp.label(seed=1)            # doctest: +SKIP
    >>> pass_.current["answer_a"]; pass_.choose("B")   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["CHOICES", "LabelMethods", "Labelling", "register_label_widget"]

#: What a person may answer: A is better, B is better, a tie, or skip this item.
CHOICES = ("A", "B", "tie", "skip")
_WIDGET: list[Callable[[Labelling], Any]] = []


def register_label_widget(factory: Callable[[Labelling], Any]) -> None:
    """The view's widget for a :class:`Labelling` (called once, when the view is imported)."""
    _WIDGET[:] = [factory]


class Labelling:
    """One pass over the items of two variants: the current task and how many are done.

    ``current`` is a dict (``index``, ``item``, ``answer_a``, ``answer_b``; the variants' names
    under ``a``/``b`` are for the record, never shown); :meth:`choose` records the choice at once.
    """

    def __init__(self, experiment: Any, *, pair: Sequence[str] | None = None, seed: int | None = None) -> None:
        self.experiment = experiment
        self.tasks = list(experiment.label_tasks(pair=pair, seed=seed))
        self.position = 0
        self.counts = {choice: 0 for choice in CHOICES}

    @property
    def current(self) -> dict[str, Any] | None:
        """The task shown now, or None when every item has been seen."""
        return self.tasks[self.position] if self.position < len(self.tasks) else None

    def choose(self, choice: str) -> dict[str, Any] | None:
        """Record ``choice`` (``A``, ``B``, ``tie`` or ``skip``) for the current task; the next task."""
        if choice not in CHOICES:
            raise ValueError(f"choose one of {', '.join(CHOICES)}, not {choice!r}.")
        task = self.current
        if task is None:
            return None
        if choice == "A":
            self.experiment.add_label(task["index"], task["a"], task["b"])
        elif choice == "B":
            self.experiment.add_label(task["index"], task["b"], task["a"])
        elif choice == "tie":
            self.experiment.add_label(task["index"], task["a"], task["b"], tie=True)
        self.counts[choice] += 1
        self.position += 1
        return self.current

    def line(self) -> str:
        """``'3 of 24 seen · A 1 · B 1 · tie 0 · skip 1'``"""
        return f"{self.position} of {len(self.tasks)} seen · " + " · ".join(f"{c} {n}" for c, n in self.counts.items())

    def __repr__(self) -> str:
        task = self.current
        if task is None:
            return f"<Labelling: done, {self.line()}>"
        return (f"<Labelling item {task['index']}: {self.line()}>\nA: {task['answer_a']}\nB: {task['answer_b']}")

    def _ipython_display_(self) -> None:
        if _WIDGET:
            _WIDGET[0](self)
        else:  # the view was never imported: no buttons to show
            print(f"{self!r}\n(%load_ext ollama_nb shows the buttons; from code: .choose('A'), 'B', 'tie' or 'skip')")


class LabelMethods:
    """Labels of :class:`~ollama_nb.Experiment` (a base class, so the grid's module stays about the grid)."""

    labels: Any
    items: Any
    cells: Any
    variants: Callable[[], list[str]]
    rows: Callable[[], list[Any]]

    def add_label(self, index: Any, winner: str, loser: str, *, tie: bool = False) -> None:
        """Record one judgement from code: on item ``index``, ``winner`` beat ``loser`` (or a tie).
        Variants are ``"prompt · model"`` names, or a prompt's or a model's name when that is unique."""
        self.labels.add(index, self.variant_of(winner), self.variant_of(loser), tie=tie)

    def variant_of(self, name: str) -> str:
        """The variant a prompt's name, a model's name or a variant's name stands for."""
        variants = self.variants()
        if name in variants:
            return name
        found = [v for v in variants if name in v.split(" · ", 1)]
        if len(found) == 1:
            return found[0]
        raise ValueError(f"{name!r} is not one variant of this experiment; use one of: {', '.join(variants)}.")

    def leaderboard(self) -> Any:
        """A Bradley–Terry strength per variant from the labels, with its 95% interval and the
        number of judgements (a DataFrame, strongest first)."""
        import pandas

        from ._statistics import bradley_terry

        rows = bradley_terry(self.variants(), [(w, lo, t) for _, w, lo, t in self.labels.all()])
        return pandas.DataFrame(rows).set_index("variant")

    def label(self, *, pair: Sequence[str] | None = None, seed: int | None = None) -> Any:
        """Blind labelling: one item at a time, two variants' answers in random order and unnamed,
        with *A is better*, *B is better*, *tie* and *skip*; each choice is recorded at once."""
        return Labelling(self, pair=pair, seed=seed)

    def label_tasks(self, *, pair: Sequence[str] | None = None, seed: int | None = None) -> Iterator[dict[str, Any]]:
        """What :meth:`label` shows, one task at a time: the item, and two variants' answers (first
        repeat) in a random order; items already labelled for that pair come last."""
        import random

        rng = random.Random(seed)
        variants = [self.variant_of(v) for v in pair] if pair else self.variants()
        if len(variants) < 2:
            raise ValueError("labelling needs two variants (two prompts or two models).")
        answers: dict[tuple[str, int], str] = {}
        for cell, row in zip(self.cells, self.rows()):
            if cell.repeat == 0 and row is not None and row.status == "ok":
                answers[(cell.variant, cell.position)] = row.answer or ""
        done = {(str(i), frozenset((w, lo))) for i, w, lo, _ in self.labels.all()}
        tasks = []
        for position in range(len(self.items)):
            first, second = rng.sample(variants, 2)
            if (first, position) in answers and (second, position) in answers:
                seen = (str(self.items.labels[position]), frozenset((first, second))) in done
                tasks.append((seen, rng.random(), position, first, second))
        for _, _, position, first, second in sorted(tasks):
            yield {"index": self.items.labels[position], "item": self.items.values[position],
                   "a": first, "b": second, "answer_a": answers[(first, position)],
                   "answer_b": answers[(second, position)]}
