"""The grid itself: which cells an experiment has (item × prompt × model × repeat), what each
request is, and the named prompts and scorers it was given.

A *cell* is one request: one item, one prompt, one model, one repeat (its seed). The requests of
one model and one repeat share every field but the prompt, so they run as one
:class:`~ollama_nb.Batch` whose items are the (prompt, item) pairs: the batch's request keys, its
record and its memory decide what is sent again, not a cache of the experiment's own.

Example:
    >>> prompts_of({"terse": "Label: {item}", "steps": "Think step by step: {item}"})
    {'terse': 'Label: {item}', 'steps': 'Think step by step: {item}'}
    >>> prompts_of(["A {item}", "B {item}"])
    {'p1': 'A {item}', 'p2': 'B {item}'}
    >>> Cell(position=0, prompt="terse", model="llama3.2", repeat=1, seed=1).variant
    'terse · llama3.2'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Cell", "CellResult", "ExperimentProgress", "Scorer", "models_of", "prompts_of", "scorers_of",
           "variant_name"]

Scorer = Callable[[Any, Any], Any]
#: Between a prompt's name and a model's in a variant's name.
SEPARATOR = " · "


def variant_name(prompt: str, model: str) -> str:
    """The name of one (prompt, model) variant, as labels and leaderboards show it."""
    return f"{prompt}{SEPARATOR}{model}"


@dataclass(frozen=True)
class Cell:
    """One request of the grid: the item's position in the input, the prompt's name, the model,
    the repeat (0…N−1) and the seed that repeat sets."""

    position: int
    prompt: str
    model: str
    repeat: int
    seed: int

    @property
    def variant(self) -> str:
        return variant_name(self.prompt, self.model)


def prompts_of(prompts: Any) -> dict[str, Any]:
    """Named prompts: one template (``p1``), a dict ``name -> template or function``, or a list
    (``p1``, ``p2``, …)."""
    if isinstance(prompts, str) or callable(prompts):
        return {"p1": prompts}
    if isinstance(prompts, Mapping):
        named = {str(name): value for name, value in prompts.items()}
    elif isinstance(prompts, (list, tuple)):
        named = {f"p{i}": value for i, value in enumerate(prompts, 1)}
    else:
        raise TypeError(f"prompts must be a template, a dict or a list of them, not {type(prompts).__name__}.")
    if not named:
        raise ValueError("an experiment needs at least one prompt.")
    for name, value in named.items():
        if not (isinstance(value, str) or callable(value)):
            raise TypeError(f"prompt {name!r} must be a template (str) or a function of the item.")
    return named


def models_of(models: Any, default: str | None) -> list[str]:
    """The model names (a list or ``"a,b"``); the session's model when none are given."""
    if models is None:
        if not default:
            from .._errors import NoModelError

            raise NoModelError()
        return [default]
    names = [m.strip() for m in models.split(",")] if isinstance(models, str) else [str(m) for m in models]
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        raise ValueError("an experiment needs at least one model.")
    return names


def scorers_of(score: Any) -> dict[str, Scorer]:
    """Named scorers: none, one function (named after it, else ``score``), or a dict."""
    if score is None:
        return {}
    if isinstance(score, Mapping):
        named = {str(name): fn for name, fn in score.items()}
    else:
        name = getattr(score, "name", None) or getattr(score, "__name__", None) or "score"
        named = {"score" if name == "<lambda>" else str(name): score}
    for name, fn in named.items():
        if not callable(fn):
            raise TypeError(f"scorer {name!r} must be a function (answer, item) -> number or bool.")
    return named


@dataclass(frozen=True)
class CellResult:
    """How one cell went: the :class:`Cell` and the batch's :class:`~ollama_nb.ItemResult`."""

    cell: Cell
    result: Any  # an ItemResult


@dataclass(frozen=True)
class ExperimentProgress:
    """A snapshot for a progress row: cells done of all, per variant, and the judging."""

    total: int
    done: int
    ok: int
    failed: int
    not_run: int
    reused: int
    elapsed_s: float
    finished: bool
    per_variant: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    scoring: str | None = None

    def line(self) -> str:
        """``'37/120 cells · 35 ok (12 from an earlier run) · 2 failed · terse · llama3.2 20/60 …'``"""
        ok = f"{self.ok} ok" + (f" ({self.reused} from an earlier run)" if self.reused else "")
        parts = [f"{self.done}/{self.total} cells", ok, f"{self.failed} failed"]
        if self.not_run:
            parts.append(f"{self.not_run} not run")
        parts.extend(f"{name} {done}/{total}" for name, (done, total) in self.per_variant.items())
        if self.scoring:
            parts.append(self.scoring)
        parts.append(f"in {self.elapsed_s:.1f} s" if self.finished else f"{self.elapsed_s:.1f} s")
        return " · ".join(parts)
