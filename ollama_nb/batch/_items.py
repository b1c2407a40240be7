"""What a batch runs over: the items, their labels (the input's index), each item's prompt, and
answers shaped like the input.

Items may be a list, tuple, dict (its values; keys are the labels), a pandas Series (values,
index) or DataFrame (rows, index), or any other finite iterable (treated as a list). pandas is
never imported here unless a pandas object was given.

Example:
    >>> items = items_of({"a": "red", "b": "blue"})
    >>> items.values, items.labels, items.kind
    (['red', 'blue'], ['a', 'b'], 'dict')
    >>> render("Colour {index}: {item}", "red", "a", {})
    'Colour a: red'
"""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from .._interpolate import interpolate

__all__ = ["Items", "items_of", "render", "shaped"]


def _is_pandas(value: Any, name: str) -> bool:
    cls = type(value)
    return cls.__name__ == name and cls.__module__.split(".")[0] == "pandas"


@dataclass(frozen=True)
class Items:
    """The values to prompt over, their labels, and the input's kind (``list``, ``dict``,
    ``series``, ``frame``); ``index`` is the pandas Index of a Series or DataFrame."""

    values: Sequence[Any]
    labels: Sequence[Any]
    kind: str
    index: Any = None

    def __len__(self) -> int:
        return len(self.values)


def items_of(items: Any) -> Items:
    """Normalise what ``Session.map`` was given (TypeError for a string or a non-iterable)."""
    if isinstance(items, (str, bytes)):
        raise TypeError("map() needs a collection of items (a list, dict, Series, DataFrame…), not one string.")
    if _is_pandas(items, "DataFrame"):
        rows = [row for _, row in items.iterrows()]
        return Items(rows, list(items.index), "frame", items.index)
    if _is_pandas(items, "Series"):
        return Items(list(items), list(items.index), "series", items.index)
    if isinstance(items, Mapping):
        return Items(list(items.values()), list(items.keys()), "dict")
    try:
        values = list(items)
    except TypeError:
        raise TypeError(f"map() needs a collection of items, not {type(items).__name__}.") from None
    return Items(values, list(range(len(values))), "list")


class _Row:
    """A DataFrame row in a template: ``{item.col}`` and ``{item[col]}`` are its columns (a
    pandas row's own attributes, such as ``.name``, would shadow them); ``{item}`` lists them."""

    __slots__ = ("_row",)

    def __init__(self, row: Any) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: Any) -> Any:
        return self._row[key]

    def __str__(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self._row.items())


def render(prompt: str | Callable[[Any], str], item: Any, label: Any, namespace: Mapping[str, Any]) -> str:
    """The prompt for one item: a function of the item, or a template with ``{item}``,
    ``{item.col}``, ``{item[col]}``, ``{index}`` and any ``{name}`` of ``namespace``."""
    if callable(prompt):
        text = prompt(item)
        if not isinstance(text, str):
            raise TypeError(f"the prompt function must return a str, not {type(text).__name__}.")
        return text
    if _is_pandas(item, "Series"):
        item = _Row(item)
    return interpolate(prompt, ChainMap({"item": item, "index": label}, namespace))  # type: ignore[arg-type]


def shaped(items: Items, values: Sequence[Any]) -> Any:
    """``values`` (in input order) shaped like the input: a list for a list or tuple, a pandas
    Series with the input's index for a Series, DataFrame or dict."""
    if items.kind == "list":
        return list(values)
    import pandas

    index = items.index if items.index is not None else pandas.Index(items.labels)
    return pandas.Series(list(values), index=index, dtype=object)
