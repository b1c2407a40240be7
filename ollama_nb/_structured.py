"""Structured output: the ``format`` argument, and reading the JSON a model wrote.

``format`` may be ``"json"``, a JSON schema (a dict), a pydantic model class (anything with
``model_json_schema()``), a dataclass or a TypedDict; :func:`format_value` turns each into what
goes on the wire. :func:`parse_json_reply` reads the reply, tolerating surrounding whitespace and
one Markdown code fence, and explains a failure in one line with its position.

Example:
    >>> format_value("json")
    'json'
    >>> parse_json_reply('```json\\n{"age": 22, "available": true}\\n```')
    {'age': 22, 'available': True}
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Mapping

from ._errors import StructuredOutputError

__all__ = ["StructuredOutputError", "format_value", "parse_json_reply"]

_HINT = "try a lower temperature or a schema"
_FENCE = re.compile(
    r"```[ \t]*(?:json|JSON|json5|jsonc)?[ \t]*\r?\n(?P<body>.*?)\r?\n?[ \t]*```", re.DOTALL
)


def parse_json_reply(text: str) -> Any:
    """The JSON value in a model's reply; raises :class:`StructuredOutputError` if there is none.

    Whitespace around the JSON and a single fenced block (```` ```json ... ``` ````, even with
    prose around it) are tolerated. The error names the line and column in ``text`` and keeps the
    raw reply on ``.text``.

    Example:
        >>> parse_json_reply(' {"a": [1, 2]}\\n')
        {'a': [1, 2]}
        >>> try:
        ...     parse_json_reply('{"a": 1 "b": 2}')
        ... except StructuredOutputError as exc:
        ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
        the model's reply is not valid JSON (line 1, column 9): Expecting ',' delimiter near '"b": 2}';
        try a lower temperature or a schema
    """
    if not isinstance(text, str):
        kind = type(text).__name__
        raise TypeError(f"parse_json_reply() needs the reply text (str), got {kind}.")
    if not text.strip():
        raise StructuredOutputError(f"the model's reply is empty, not JSON; {_HINT}", text=text)

    start, body = _json_part(text)
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        position = start + exc.pos
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        if exc.pos >= len(body.rstrip()):
            detail = f"{exc.msg}: the reply ends early (raise num_predict if it was cut off)"
        else:
            near = body[exc.pos : exc.pos + 24].split("\n", 1)[0]
            detail = f"{exc.msg} near {near!r}"
        where = f"line {line}, column {column}"
        error = StructuredOutputError(f"the model's reply is not valid JSON ({where}): {detail}; {_HINT}", text=text)
        error.line = line  # type: ignore[attr-defined]
        error.column = column  # type: ignore[attr-defined]
        raise error from exc


def _json_part(text: str) -> tuple[int, str]:
    """``(offset in text, JSON text)``: the whole text, or the body of its one fenced block."""
    stripped = text.strip()
    if stripped.startswith(("{", "[", '"')) or stripped[:1].isdigit() or stripped[:1] == "-":
        start = text.index(stripped[0])
        return start, stripped
    fences = list(_FENCE.finditer(text))
    if len(fences) == 1:
        return fences[0].start("body"), fences[0].group("body")
    start = text.index(stripped[0])
    return start, stripped


def format_value(fmt: Any) -> str | dict[str, Any] | None:
    """What to send as ``format``: ``"json"``, or a JSON schema dict; ``None`` stays ``None``.

    Accepts ``"json"`` (any case), a JSON schema as a dict or as JSON text, a pydantic model class
    or instance (``model_json_schema()``), a dataclass or a TypedDict. Raises ``ValueError`` or
    ``TypeError`` with the accepted forms otherwise.

    Example:
        >>> format_value({"type": "object", "properties": {"age": {"type": "integer"}}})
        {'type': 'object', 'properties': {'age': {'type': 'integer'}}}
    """
    if fmt is None:
        return None
    if isinstance(fmt, str):
        text = fmt.strip()
        if text.lower() == "json":
            return "json"
        if text.startswith("{"):
            try:
                schema = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"format looks like a JSON schema but is not valid JSON ({exc.msg}, "
                    f"line {exc.lineno}, column {exc.colno})."
                ) from exc
            return _checked_schema(schema, "the format text")
        raise ValueError(f"format must be 'json', a JSON schema (dict) or a pydantic model, got {fmt!r:.60}.")
    if isinstance(fmt, Mapping):
        return _checked_schema(fmt, "the format dict")
    schema_of = getattr(fmt, "model_json_schema", None)
    if callable(schema_of):
        owner = getattr(fmt, "__name__", type(fmt).__name__)
        return _checked_schema(schema_of(), f"{owner}.model_json_schema()")
    is_typeddict = hasattr(fmt, "__required_keys__")
    if isinstance(fmt, type) and (dataclasses.is_dataclass(fmt) or is_typeddict):
        from ._tools import fields_schema

        return fields_schema(fmt, f"format={fmt.__name__}")
    raise TypeError(
        "format must be 'json', a JSON schema (dict), a pydantic model, a dataclass or a "
        f"TypedDict, got {type(fmt).__name__}."
    )


def _checked_schema(schema: Any, source: str) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        raise TypeError(f"{source} must be a JSON object (a dict), got {type(schema).__name__}.")
    try:
        json.dumps(schema)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source} cannot be sent as JSON: {exc}.") from exc
    return dict(schema)
