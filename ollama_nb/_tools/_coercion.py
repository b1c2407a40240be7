"""Arguments a model sent, converted to the annotated types where that loses nothing.

``"3"`` becomes ``3`` for ``int``, ``"true"`` becomes ``True``, ``"red"`` becomes ``Color.RED``;
a value that cannot become the type raises :class:`ArgumentMismatch` with what was expected.

Example:
    >>> coerce("3", int, "n")
    3
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import math
import re
import typing
from typing import Any, Callable, Mapping

from ._types import (
    ARRAY_TYPES,
    NONE_TYPE,
    OBJECT_TYPES,
    SET_TYPES,
    UNION_TYPES,
    enum_choices,
    is_pydantic_model,
    is_typeddict,
    strip_annotated,
    strip_required,
)

__all__ = ["ArgumentMismatch", "coerce"]

class ArgumentMismatch(Exception):
    """A value the model sent cannot become the annotated type; the text says what was expected."""


def coerce(value: Any, annotation: Any, name: str) -> Any:
    """``value`` as ``annotation`` when that is safe; raises ArgumentMismatch when it cannot be."""
    try:
        return _convert(value, annotation)
    except ArgumentMismatch:
        raise ArgumentMismatch(
            f"argument '{name}' must be {_describe(annotation)}, got {_shown(value)}"
        ) from None


def _describe(annotation: Any) -> str:
    annotation, _ = strip_annotated(annotation)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if annotation in names:
        return names[annotation]
    origin = typing.get_origin(annotation) or annotation
    if origin in (list, tuple, set, frozenset):
        return "a list"
    if origin is dict:
        return "an object"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(json.dumps(c) for c in enum_choices(annotation))
    if typing.get_origin(annotation) is typing.Literal:
        choices = [v.value if isinstance(v, enum.Enum) else v for v in typing.get_args(annotation)]
        return "one of " + ", ".join(json.dumps(c) for c in choices)
    return getattr(annotation, "__name__", None) or repr(annotation)


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


_TRUE = {"true", "yes", "1", "on"}


_FALSE = {"false", "no", "0", "off"}


def _convert(value: Any, annotation: Any) -> Any:
    annotation, _ = strip_annotated(annotation)
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is object:
        return value
    if hasattr(annotation, "__supertype__"):  # typing.NewType
        return _convert(value, annotation.__supertype__)
    if annotation is None or annotation is NONE_TYPE:
        if value is not None:
            raise ArgumentMismatch()
        return None

    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise ArgumentMismatch()
    if annotation is int:
        if isinstance(value, bool):
            raise ArgumentMismatch()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            text = value.strip().replace("_", "")
            if re.fullmatch(r"[+-]?\d+", text):
                return int(text)
            try:
                number = float(text)
            except ValueError:
                raise ArgumentMismatch()
            if math.isfinite(number) and number.is_integer():
                return int(number)
        raise ArgumentMismatch()
    if annotation is float:
        if isinstance(value, bool):
            raise ArgumentMismatch()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise ArgumentMismatch()
        raise ArgumentMismatch()
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ArgumentMismatch()

    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _convert_enum(value, annotation)

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        for choice in args:
            if value == choice and type(value) is type(choice):
                return choice
        for choice in args:
            if choice is None:
                continue
            base = choice.value if isinstance(choice, enum.Enum) else choice
            try:
                if _convert(value, type(base)) == base:
                    return choice
            except ArgumentMismatch:
                continue
        raise ArgumentMismatch()
    if origin in UNION_TYPES:
        if value is None:
            if NONE_TYPE not in args:
                raise ArgumentMismatch()
            return None
        arms = [a for a in args if a is not NONE_TYPE]
        for arm in arms:  # an arm the value already is, without conversion
            if _is_instance(value, arm):
                return _convert(value, arm)
        for arm in arms:
            try:
                return _convert(value, arm)
            except ArgumentMismatch:
                continue
        raise ArgumentMismatch()

    container = origin or annotation
    if container in ARRAY_TYPES:
        if isinstance(value, str):
            value = _json_or_fail(value, list)
        if not isinstance(value, (list, tuple)):
            raise ArgumentMismatch()
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise ArgumentMismatch()
            return tuple(_convert(v, a) for v, a in zip(value, args))
        items = [_convert(v, args[0]) for v in value] if args else list(value)
        if container is tuple:
            return tuple(items)
        if container in SET_TYPES:
            return frozenset(items) if container is frozenset else set(items)
        return items
    if container in OBJECT_TYPES:
        if isinstance(value, str):
            value = _json_or_fail(value, dict)
        if not isinstance(value, Mapping):
            raise ArgumentMismatch()
        if len(args) == 2:
            return {k: _convert(v, args[1]) for k, v in value.items()}
        return dict(value)

    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _convert_fields(value, annotation, lambda fields: annotation(**fields))
    if is_typeddict(annotation):
        return _convert_fields(value, annotation, dict)
    if is_pydantic_model(annotation):
        if isinstance(value, annotation):
            return value
        try:
            return annotation.model_validate(value)
        except Exception:
            raise ArgumentMismatch()
    return value  # a type we do not know: the function gets what the model sent


def _convert_fields(value: Any, cls: Any, build: Callable[[dict[str, Any]], Any]) -> Any:
    if isinstance(value, str):
        value = _json_or_fail(value, dict)
    if not isinstance(value, Mapping):
        raise ArgumentMismatch()
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:
        hints = {}
    fields = {k: _convert(v, strip_required(hints.get(k, Any))) for k, v in value.items()}
    try:
        return build(fields)
    except TypeError:
        raise ArgumentMismatch()


def _convert_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    if isinstance(value, cls):
        return value
    for member in cls:
        if member.value == value and type(member.value) is type(value):
            return member
    if isinstance(value, str):
        if value in cls.__members__:
            return cls.__members__[value]
        for member in cls:
            if isinstance(member.value, str) and member.value.lower() == value.strip().lower():
                return member
            if isinstance(member.value, (int, float)) and not isinstance(member.value, bool):
                try:
                    if _convert(value, type(member.value)) == member.value:
                        return member
                except ArgumentMismatch:
                    continue
    raise ArgumentMismatch()


def _is_instance(value: Any, annotation: Any) -> bool:
    annotation, _ = strip_annotated(annotation)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation in (int, float):
        return isinstance(value, annotation) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    container = typing.get_origin(annotation) or annotation
    if container in (list, tuple, set, frozenset):
        return isinstance(value, (list, tuple))
    if container is dict:
        return isinstance(value, Mapping)
    return False


def _json_or_fail(text: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ArgumentMismatch() from None
    if not isinstance(value, kind):
        raise ArgumentMismatch()
    return value
