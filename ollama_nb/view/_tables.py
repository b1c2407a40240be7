"""Small Markdown tables for model lists, timings and comparisons."""

from __future__ import annotations

from typing import Any, Mapping, Sequence


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-style Markdown table.

    Example:
        >>> print(markdown_table([{"model": "a", "tok/s": 12.5}]))
        | model | tok/s |
        |---|---|
        | a | 12.5 |
    """
    if not rows:
        return "*(nothing yet)*"
    columns = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
