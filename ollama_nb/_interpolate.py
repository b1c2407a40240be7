"""``{name}`` interpolation of prompts from a namespace, safe for pasted code.

``{name}``, ``{name.attr}`` and ``{name[key]}`` are replaced once with values from the namespace;
``{{`` and the ``}}`` that closes it give literal braces (a ``}}`` with no ``{{`` before it, as in
nested JSON, stays as typed); anything else in braces (an undefined name, an expression,
a JSON object, a set literal) is left exactly as typed, so pasted code never raises. No code is
evaluated: only attribute and item look-ups.

Example:
    >>> interpolate("Summarise {doc[title]} for {user.name}, not {other} or {1+1}",
    ...             {"doc": {"title": "Q3"}, "user": type("U", (), {"name": "Ada"})})
    'Summarise Q3 for Ada, not {other} or {1+1}'
    >>> interpolate("{{literal}} and {{x}}", {"x": 1})
    '{literal} and {x}'
"""

from __future__ import annotations

import re
from typing import Any, Mapping

__all__ = ["interpolate"]

_FIELD = re.compile(
    r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\[\]{}]+\])*)\}"
)
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([^\[\]]+)\]")
_MISSING = object()


def _key(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        return text


def _lookup(path: str, namespace: Mapping[str, Any]) -> Any:
    root = re.match(r"[A-Za-z_][A-Za-z0-9_]*", path)
    assert root is not None
    value = namespace.get(root.group(0), _MISSING)
    if value is _MISSING:
        return _MISSING
    for step in _STEP.finditer(path, root.end()):
        attr, key = step.groups()
        try:
            if attr is not None:
                if attr.startswith("_"):
                    return _MISSING
                value = getattr(value, attr)
            else:
                value = value[_key(key)]
        except Exception:
            return _MISSING
    return value


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace ``{name…}`` fields found in ``namespace``; leave everything else as typed."""

    open_escapes = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal open_escapes
        token = match.group(0)
        if token == "{{":
            open_escapes += 1
            return "{"
        if token == "}}":
            if not open_escapes:
                return token  # code or JSON closing two braces at once: as typed
            open_escapes -= 1
            return "}"
        value = _lookup(match.group(1), namespace)
        return token if value is _MISSING else str(value)

    return _FIELD.sub(replace, text)
