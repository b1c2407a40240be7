"""Small Markdown tables for model lists, timings and comparisons.

Cells are :class:`~ollama_nb._safe.SafeMarkdown` (or numbers, booleans, None): a raw ``str`` is
refused with TypeError, so text from a server or a model cannot reach a table unescaped. Build a
cell with ``SafeMarkdown.text(value)`` (shown exactly as written) or ``SafeMarkdown.code(value)``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .._safe import SafeMarkdown

_BAR = SafeMarkdown.trusted(" | ")


def _cell(value: Any) -> SafeMarkdown:
    if value is None:
        return SafeMarkdown.trusted("")
    if isinstance(value, SafeMarkdown):
        if "\n" in value:
            raise ValueError("a table cell is one line: build it with SafeMarkdown.text() or .code()")
        return value
    if isinstance(value, bool):
        return SafeMarkdown.trusted("yes" if value else "no")
    if isinstance(value, float):
        return SafeMarkdown.trusted(f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}")
    if isinstance(value, int):
        return SafeMarkdown.trusted(str(value))
    raise TypeError(
        f"a table cell must be SafeMarkdown or a number, not {type(value).__name__} ({str(value)[:40]!r}): "
        "wrap it with SafeMarkdown.text() or SafeMarkdown.code()"
    )


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> SafeMarkdown:
    """A GitHub-style Markdown table; cells are SafeMarkdown or numbers (a raw str is a TypeError).

    Example:
        >>> print(markdown_table([{"model": SafeMarkdown.text("a|b"), "tok/s": 12.5}]))
        | model | tok/s |
        |---|---|
        | a&#124;b | 12.5 |
    """
    if not rows:
        return SafeMarkdown.trusted("*(nothing yet)*")
    columns = list(columns or rows[0].keys())
    lines = [
        SafeMarkdown.trusted("| ") + _BAR.join(SafeMarkdown.text(c) for c in columns) + SafeMarkdown.trusted(" |"),
        SafeMarkdown.trusted("|" + "---|" * len(columns)),
    ]
    lines += [
        SafeMarkdown.trusted("| ") + _BAR.join(_cell(row.get(c)) for c in columns) + SafeMarkdown.trusted(" |")
        for row in rows
    ]
    return SafeMarkdown.trusted("\n").join(lines)
