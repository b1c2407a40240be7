"""Docstrings: the first paragraph, and each parameter's text (Google, reST/Epytext, NumPy).

Example:
    >>> parse_docstring("Get the weather.\\n\\nArgs:\\n    city: The city")
    ('Get the weather.', {'city': 'The city'})
"""

from __future__ import annotations

import re

__all__ = ["parse_docstring"]

_PARAM_SECTIONS = (
    r"Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Other Parameters"
)


_OTHER_SECTIONS = r"Returns?|Yields?|Raises|Examples?|Notes?|Warnings?|See Also|Attributes|Todo"


_GOOGLE_HEADER = re.compile(rf"^(\s*)({_PARAM_SECTIONS})\s*:\s*$", re.IGNORECASE)


_ANY_GOOGLE_HEADER = re.compile(
    rf"^\s*({_PARAM_SECTIONS}|{_OTHER_SECTIONS})\s*:\s*$", re.IGNORECASE
)


_GOOGLE_ENTRY = re.compile(r"^\**(?P<name>\w+)\s*(?:\([^)]*\))?\s*:\s*(?P<text>.*)$")


_REST_PARAM = re.compile(  # ":param city:", ":param str city:", "@param city:" (Epytext)
    r"^\s*[:@](?:param|parameter|arg|argument|key|keyword)\s+"
    r"(?:[^:]*?\s)?\**(?P<name>\w+)\s*:\s*(?P<text>.*)$"
)


_REST_FIELD = re.compile(r"^\s*[:@]\w+")


_NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")


_NUMPY_PARAM_HEADERS = {"parameters", "other parameters", "params", "arguments", "args"}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """``(first paragraph as one line, {parameter: description})`` from a cleaned docstring."""
    lines = doc.splitlines()
    summary: list[str] = []
    for i, line in enumerate(lines):
        if not line.strip():
            break
        if _ANY_GOOGLE_HEADER.match(line) or _REST_FIELD.match(line):
            break
        if i + 1 < len(lines) and _NUMPY_RULE.match(lines[i + 1]):
            break
        summary.append(line.strip())
    params: dict[str, str] = {}
    _google_params(lines, params)
    _rest_params(lines, params)
    _numpy_params(lines, params)
    return " ".join(summary), params


def _add(params: dict[str, str], name: str, parts: list[str]) -> None:
    text = " ".join(p for p in parts if p).strip()
    if text and name not in params:
        params[name] = text


def _google_params(lines: list[str], params: dict[str, str]) -> None:
    i = 0
    while i < len(lines):
        header = _GOOGLE_HEADER.match(lines[i])
        i += 1
        if not header:
            continue
        base = len(header.group(1))
        entry_indent: int | None = None
        name: str | None = None
        parts: list[str] = []
        while i < len(lines):
            line = lines[i]
            if line.strip() and _indent(line) <= base:
                break
            if not line.strip():
                i += 1
                continue
            indent = _indent(line)
            if entry_indent is None:
                entry_indent = indent
            entry = _GOOGLE_ENTRY.match(line.strip()) if indent <= entry_indent else None
            if entry:
                if name:
                    _add(params, name, parts)
                name, parts = entry.group("name"), [entry.group("text").strip()]
            elif name:
                parts.append(line.strip())
            i += 1
        if name:
            _add(params, name, parts)


def _rest_params(lines: list[str], params: dict[str, str]) -> None:
    i = 0
    while i < len(lines):
        match = _REST_PARAM.match(lines[i])
        if not match:
            i += 1
            continue
        indent = _indent(lines[i])
        parts = [match.group("text").strip()]
        i += 1
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) > indent:
            if _REST_FIELD.match(lines[i]):
                break
            parts.append(lines[i].strip())
            i += 1
        _add(params, match.group("name"), parts)


def _numpy_params(lines: list[str], params: dict[str, str]) -> None:
    i = 0
    while i + 1 < len(lines):
        is_header = lines[i].strip().lower() in _NUMPY_PARAM_HEADERS
        if not (is_header and _NUMPY_RULE.match(lines[i + 1])):
            i += 1
            continue
        base = _indent(lines[i])
        i += 2
        names: list[str] = []
        parts: list[str] = []
        while i < len(lines):
            line = lines[i]
            if i + 1 < len(lines) and line.strip() and _NUMPY_RULE.match(lines[i + 1]):
                break  # the next section's header
            if not line.strip():
                i += 1
                continue
            if _indent(line) < base:
                break
            if _indent(line) == base:
                for name in names:
                    _add(params, name, parts)
                head = line.split(":", 1)[0]
                names = [n.strip().lstrip("*") for n in head.split(",") if n.strip()]
                parts = []
            else:
                parts.append(line.strip())
            i += 1
        for name in names:
            _add(params, name, parts)
