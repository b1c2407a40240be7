"""Python functions as Ollama tools: the ``tools`` entry (a JSON schema) from a signature and docstring."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import typing
from typing import Any, Callable, Iterable, Mapping

from .._errors import ToolError
from ._docstrings import parse_docstring
from ._types import (
    ARRAY_TYPES,
    NONE_TYPE,
    OBJECT_TYPES,
    UNION_TYPES,
    allows_none,
    enum_choices,
    is_pydantic_model,
    is_typeddict,
    strip_annotated,
    strip_required,
    type_hints,
    unwrap_partial,
)

__all__ = ["fields_schema", "tool_name", "tool_schema", "tools_by_name"]

# Ollama passes tool names to chat templates; OpenAI-style templates accept this alphabet.
_TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


def tool_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """Describe ``func`` as an Ollama tool (``{"type": "function", "function": {...}}``).

    The description is the docstring's first paragraph; parameter descriptions come from a
    Google ``Args:``, reST ``:param x:`` or NumPy ``Parameters`` section, or from
    ``Annotated[T, "…"]``.
    Types come from the hints: ``str int float bool``, ``list[T]``/``tuple``/``set``, ``dict``,
    ``Optional[T]``/``T | None``, ``Literal[...]`` and ``Enum`` (as ``enum``), dataclasses and
    TypedDicts (as nested objects). Unannotated parameters are strings; ``*args``/``**kwargs``
    are left out. A parameter is required unless it has a default or is ``Optional``.

    Raises :class:`ToolError` for what cannot be a tool: lambdas and other nameless callables,
    classes, ``async def`` functions, builtins without a readable signature, and parameter types
    a model cannot send (say ``datetime``: annotate it ``str`` and parse it inside).

    Example:
        >>> def add(a: int, b: int = 1) -> int:
        ...     "Add two integers."
        ...     return a + b
        >>> params = tool_schema(add)["function"]["parameters"]
        >>> params["properties"], params["required"]
        ({'a': {'type': 'integer'}, 'b': {'type': 'integer'}}, ['a'])
    """
    name = tool_name(func)
    if inspect.iscoroutinefunction(unwrap_partial(func)):
        raise ToolError(
            f"{name} is an async function; tools run synchronously. Pass a regular def instead."
        )
    signature = _signature(func, name)
    hints = type_hints(func, signature, name, strict=True)
    description, param_docs = parse_docstring(_docstring(func))

    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, param.empty)
        annotation, note = strip_annotated(annotation)
        where = f"parameter '{param.name}' of {name}()"
        prop = _schema_for(annotation, where)
        doc = note or param_docs.get(param.name)
        if doc:
            prop = _with_description(prop, doc)
        properties[param.name] = prop
        if param.default is param.empty and not allows_none(annotation):
            required.append(param.name)

    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


def tools_by_name(tools: Iterable[Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Map each function to the name its :func:`tool_schema` gives it, refusing duplicates.

    Example:
        >>> def ping() -> str:
        ...     "Answer pong."
        ...     return "pong"
        >>> list(tools_by_name([ping]))
        ['ping']
    """
    table: dict[str, Callable[..., Any]] = {}
    for func in tools:
        name = tool_name(func)
        if name in table and table[name] is not func:
            raise ToolError(
                f"two tools are named '{name}'; give one of the functions another name."
            )
        table[name] = func
    return table


def tool_name(func: Any) -> str:
    if inspect.isclass(func):
        raise ToolError(
            f"{func.__name__} is a class, not a function; pass a def that builds and returns it."
        )
    if not callable(func):
        raise ToolError(f"a tool must be a function, got {type(func).__name__} {func!r:.60}.")
    name = getattr(unwrap_partial(func), "__name__", None)
    if not isinstance(name, str):
        raise ToolError(
            f"{type(func).__name__} object has no __name__ the model could call; wrap it in a def."
        )
    if name == "<lambda>":
        raise ToolError(
            "a lambda has no name the model could call; define the tool with def (and a docstring)."
        )
    if not _TOOL_NAME.match(name):
        raise ToolError(
            f"'{name}' cannot be a tool name "
            "(use ASCII letters, digits and _, at most 64 characters)."
        )
    return name


def _signature(func: Any, name: str) -> inspect.Signature:
    try:
        return inspect.signature(func)
    except (ValueError, TypeError) as exc:
        raise ToolError(
            f"cannot read the signature of {name} (builtins often hide theirs); "
            "wrap it in a def with type hints."
        ) from exc


def _docstring(func: Any) -> str:
    target = unwrap_partial(func)
    doc = getattr(target, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def _with_description(prop: dict[str, Any], text: str) -> dict[str, Any]:
    """Insert ``description`` right after ``type`` (the key order the Ollama docs use)."""
    out: dict[str, Any] = {}
    if "type" in prop:
        out["type"] = prop["type"]
    out["description"] = text
    out.update((k, v) for k, v in prop.items() if k not in out)
    return out


def _json_type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    kinds = list(dict.fromkeys(_json_type_of(v) for v in values))
    return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": values}


def fields_schema(tp: Any, where: str) -> dict[str, Any]:
    """Nested object schema for a dataclass or TypedDict."""
    try:
        hints = typing.get_type_hints(tp, include_extras=True)
    except Exception as exc:
        raise ToolError(
            f"cannot resolve the field types of {tp.__name__} ({where}): {exc}"
        ) from exc
    properties: dict[str, Any] = {}
    required: list[str] = []
    if dataclasses.is_dataclass(tp):
        for field in dataclasses.fields(tp):
            if not field.init:
                continue
            annotation, note = strip_annotated(hints.get(field.name, Any))
            prop = _schema_for(annotation, f"field '{field.name}' of {getattr(tp, '__name__', tp)} ({where})")
            properties[field.name] = _with_description(prop, note) if note else prop
            has_default = field.default is not dataclasses.MISSING or (
                field.default_factory is not dataclasses.MISSING
            )
            if not has_default and not allows_none(annotation):
                required.append(field.name)
    else:
        required_keys: frozenset[str] = getattr(tp, "__required_keys__", frozenset())
        for key, hint in hints.items():
            annotation, note = strip_annotated(strip_required(hint))
            prop = _schema_for(annotation, f"key '{key}' of {tp.__name__} ({where})")
            properties[key] = _with_description(prop, note) if note else prop
            if key in required_keys:
                required.append(key)
    return {"type": "object", "properties": properties, "required": required}


def _schema_for(annotation: Any, where: str) -> dict[str, Any]:
    """The JSON-schema fragment a model needs to send a value of ``annotation``."""
    annotation, _ = strip_annotated(annotation)
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is object:
        return {"type": "string"}
    if hasattr(annotation, "__supertype__"):  # typing.NewType
        return _schema_for(annotation.__supertype__, where)
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer"}
    if annotation is float:
        return {"type": "number"}
    if annotation is str:
        return {"type": "string"}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_schema(enum_choices(annotation))
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return fields_schema(annotation, where)
    if is_typeddict(annotation):
        return fields_schema(annotation, where)
    if is_pydantic_model(annotation):
        model_schema = annotation.model_json_schema()
        return dict(model_schema) if isinstance(model_schema, Mapping) else {"type": "object"}

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        values = [v.value if isinstance(v, enum.Enum) else v for v in args if v is not None]
        if not values:
            raise ToolError(f"{where} is Literal[None]; a model cannot send only null.")
        return _enum_schema(values)
    if origin in UNION_TYPES:
        arms = [a for a in args if a is not NONE_TYPE]
        if len(arms) == 1:
            return _schema_for(arms[0], where)
        kinds: list[Any] = []
        for arm in arms:
            kind = _schema_for(arm, where).get("type", "string")
            for k in kind if isinstance(kind, list) else [kind]:
                if k not in kinds:
                    kinds.append(k)
        return {"type": kinds[0] if len(kinds) == 1 else kinds}

    container = origin or annotation
    if container in ARRAY_TYPES:
        schema: dict[str, Any] = {"type": "array"}
        item_args = [a for a in args if a is not Ellipsis]
        if container is tuple and len(set(map(repr, item_args))) > 1:
            return schema  # a fixed mixed tuple: no single item type
        if item_args:
            schema["items"] = _schema_for(item_args[0], where)
        return schema
    if container in OBJECT_TYPES:
        return {"type": "object"}
    if annotation is None or annotation is NONE_TYPE:
        raise ToolError(f"{where} is annotated None; a model cannot send only null.")

    shown = getattr(annotation, "__name__", None) or repr(annotation)
    raise ToolError(
        f"{where} has type {shown}, which a model cannot send; use str, int, float, bool, list, "
        "dict, Literal or an Enum (for example annotate it str and parse it inside)."
    )
