"""Type-hint helpers shared by the schema (types -> JSON schema) and the coercion (JSON -> types)."""

from __future__ import annotations

import collections.abc as abc
import enum
import functools
import inspect
import sys
import types
import typing
from typing import Any

from .._errors import ToolError

__all__ = [
    "ARRAY_TYPES",
    "JSON_SCALARS",
    "NONE_TYPE",
    "OBJECT_TYPES",
    "SET_TYPES",
    "UNION_TYPES",
    "allows_none",
    "enum_choices",
    "is_pydantic_model",
    "is_typeddict",
    "strip_annotated",
    "strip_required",
    "type_hints",
    "unwrap_partial",
]

NONE_TYPE = type(None)


UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)


SET_TYPES: tuple[Any, ...] = (set, frozenset, abc.Set, abc.MutableSet)


ARRAY_TYPES: tuple[Any, ...] = (
    (list, tuple, abc.Sequence, abc.MutableSequence, abc.Iterable, abc.Collection) + SET_TYPES
)


OBJECT_TYPES: tuple[Any, ...] = (dict, abc.Mapping, abc.MutableMapping)


JSON_SCALARS = (str, int, float, bool)


def unwrap_partial(func: Any) -> Any:
    while isinstance(func, functools.partial):
        func = func.func
    return func


def type_hints(
    func: Any, signature: inspect.Signature, name: str, *, strict: bool
) -> dict[str, Any]:
    """Resolved parameter annotations; each string annotation is evaluated on its own if needed.

    ``typing.get_type_hints`` fails as a whole when one hint (often the return type) does not
    resolve, e.g. under ``from __future__ import annotations`` with a name defined later. Then
    each parameter is evaluated alone; one that still fails is a ToolError when ``strict``, and is
    left out (no coercion) otherwise.
    """
    target = unwrap_partial(func)
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:
        hints = None
    if hints is not None:
        return hints

    resolved: dict[str, Any] = {}
    inner = inspect.unwrap(target) if callable(target) else target
    globalns = getattr(inner, "__globals__", None)
    if globalns is None:
        module = sys.modules.get(getattr(inner, "__module__", "") or "")
        globalns = vars(module) if module is not None else {}
    for param in signature.parameters.values():
        annotation = param.annotation
        if annotation is param.empty:
            continue
        if isinstance(annotation, str):
            try:
                # The user's own hint, evaluated where the function was defined.
                annotation = eval(annotation, dict(globalns), {})  # noqa: S307
            except Exception as exc:
                if strict:
                    raise ToolError(
                        f"cannot resolve the type hint {param.annotation!r} of parameter "
                        f"'{param.name}' of {name}() ({type(exc).__name__}: {exc}); "
                        "define that type at module level, before the function."
                    ) from exc
                continue
        resolved[param.name] = annotation
    return resolved


def strip_annotated(annotation: Any) -> tuple[Any, str | None]:
    """``Annotated[T, "text", ...]`` -> ``(T, "text")``; anything else -> ``(annotation, None)``."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        note = next((e.strip() for e in extras if isinstance(e, str) and e.strip()), None)
        return base, note
    return annotation, None


def strip_required(hint: Any) -> Any:
    """``Required[T]`` / ``NotRequired[T]`` (TypedDict keys, Python 3.11+) -> ``T``."""
    markers = tuple(getattr(typing, n) for n in ("Required", "NotRequired") if hasattr(typing, n))
    while markers and typing.get_origin(hint) in markers:
        hint = typing.get_args(hint)[0]
    return hint


def allows_none(annotation: Any) -> bool:
    annotation, _ = strip_annotated(annotation)
    if annotation is None or annotation is NONE_TYPE:
        return True
    origin = typing.get_origin(annotation)
    if origin in UNION_TYPES:
        return any(allows_none(arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return None in typing.get_args(annotation)
    return False


def enum_choices(cls: type[enum.Enum]) -> list[Any]:
    """What the model sends for an Enum: the values when they are JSON scalars, else the names."""
    members = list(cls)
    if all(isinstance(m.value, JSON_SCALARS) for m in members):
        return [m.value for m in members]
    return [m.name for m in members]


def is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def is_pydantic_model(tp: Any) -> bool:
    return isinstance(tp, type) and callable(getattr(tp, "model_json_schema", None)) and callable(
        getattr(tp, "model_validate", None)
    )
