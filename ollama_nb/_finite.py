"""JSON the package writes never holds NaN or Infinity (invalid JSON that other tools reject).

A server may send ``NaN`` or ``1e999`` in its statistics; they are written as ``null``.

Example:
    >>> finite_json({"a": float("nan"), "b": [1.5, float("inf")]})
    '{"a": null, "b": [1.5, null]}'
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["finite", "finite_json"]


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (in dicts, lists and tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def finite_json(value: Any, **settings: Any) -> str:
    """``json.dumps`` of :func:`finite` ``(value)``; it cannot write NaN or Infinity."""
    return json.dumps(finite(value), allow_nan=False, **settings)
