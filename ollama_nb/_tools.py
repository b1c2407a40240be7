"""Python functions as Ollama tools: schema from a signature, and running the calls a model makes.

Three steps, all pure (no network):

1. :func:`tool_schema` turns an ordinary function into the ``tools`` entry Ollama expects; the
   description comes from the docstring, the parameter types from the type hints.
2. :meth:`ToolCall.from_wire` reads one entry of ``message.tool_calls`` from a reply.
3. :func:`run_tool_call` runs it and never raises: whatever goes wrong becomes a
   :class:`ToolResult` whose text tells the model what to fix, and
   :meth:`ToolResult.as_message` is the ``role: "tool"`` message to send back.

Example:
    >>> def get_weather(city: str) -> str:
    ...     '''Get the weather in a given city.
    ...
    ...     Args:
    ...         city: The city to get the weather for
    ...     '''
    ...     return "11 degrees celsius"
    >>> tool_schema(get_weather)["function"]["parameters"]["properties"]
    {'city': {'type': 'string', 'description': 'The city to get the weather for'}}
    >>> call = ToolCall.from_wire({"function": {"name": "get_weather",
    ...                                         "arguments": {"city": "Toronto"}}})
    >>> run_tool_call(call, {"get_weather": get_weather}).as_message()
    {'role': 'tool', 'content': '11 degrees celsius', 'tool_name': 'get_weather'}
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import enum
import functools
import inspect
import json
import math
import re
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from ._errors import ToolError

__all__ = [
    "DEFAULT_MAX_TOOL_ROUNDS",
    "ToolCall",
    "ToolError",
    "ToolResult",
    "run_tool_call",
    "tool_schema",
    "tools_by_name",
]

#: How many times in a row a reply may ask for tools before the loop stops and returns what it has.
DEFAULT_MAX_TOOL_ROUNDS = 5

# Ollama passes tool names to chat templates; OpenAI-style templates accept this alphabet.
_TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_ERROR_TEXT_LIMIT = 500

_NoneType = type(None)
_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)
_SET_TYPES: tuple[Any, ...] = (set, frozenset, abc.Set, abc.MutableSet)
_ARRAY_TYPES: tuple[Any, ...] = (
    (list, tuple, abc.Sequence, abc.MutableSequence, abc.Iterable, abc.Collection) + _SET_TYPES
)
_OBJECT_TYPES: tuple[Any, ...] = (dict, abc.Mapping, abc.MutableMapping)
_JSON_SCALARS = (str, int, float, bool)


# --------------------------------------------------------------------------------------------
# Function -> schema
# --------------------------------------------------------------------------------------------


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
    name = _tool_name(func)
    if inspect.iscoroutinefunction(_unwrap_partial(func)):
        raise ToolError(
            f"{name} is an async function; tools run synchronously. Pass a regular def instead."
        )
    signature = _signature(func, name)
    hints = _type_hints(func, signature, name, strict=True)
    description, param_docs = _parse_docstring(_docstring(func))

    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, param.empty)
        annotation, note = _strip_annotated(annotation)
        where = f"parameter '{param.name}' of {name}()"
        prop = _schema_for(annotation, where)
        doc = note or param_docs.get(param.name)
        if doc:
            prop = _with_description(prop, doc)
        properties[param.name] = prop
        if param.default is param.empty and not _allows_none(annotation):
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
        name = _tool_name(func)
        if name in table and table[name] is not func:
            raise ToolError(
                f"two tools are named '{name}'; give one of the functions another name."
            )
        table[name] = func
    return table


def _unwrap_partial(func: Any) -> Any:
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _tool_name(func: Any) -> str:
    if inspect.isclass(func):
        raise ToolError(
            f"{func.__name__} is a class, not a function; pass a def that builds and returns it."
        )
    if not callable(func):
        raise ToolError(f"a tool must be a function, got {type(func).__name__} {func!r:.60}.")
    name = getattr(_unwrap_partial(func), "__name__", None)
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
    target = _unwrap_partial(func)
    doc = getattr(target, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def _type_hints(
    func: Any, signature: inspect.Signature, name: str, *, strict: bool
) -> dict[str, Any]:
    """Resolved parameter annotations; each string annotation is evaluated on its own if needed.

    ``typing.get_type_hints`` fails as a whole when one hint (often the return type) does not
    resolve, e.g. under ``from __future__ import annotations`` with a name defined later. Then
    each parameter is evaluated alone; one that still fails is a ToolError when ``strict``, and is
    left out (no coercion) otherwise.
    """
    target = _unwrap_partial(func)
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


def _strip_annotated(annotation: Any) -> tuple[Any, str | None]:
    """``Annotated[T, "text", ...]`` -> ``(T, "text")``; anything else -> ``(annotation, None)``."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        note = next((e.strip() for e in extras if isinstance(e, str) and e.strip()), None)
        return base, note
    return annotation, None


def _with_description(prop: dict[str, Any], text: str) -> dict[str, Any]:
    """Insert ``description`` right after ``type`` (the key order the Ollama docs use)."""
    out: dict[str, Any] = {}
    if "type" in prop:
        out["type"] = prop["type"]
    out["description"] = text
    out.update((k, v) for k, v in prop.items() if k not in out)
    return out


def _allows_none(annotation: Any) -> bool:
    annotation, _ = _strip_annotated(annotation)
    if annotation is None or annotation is _NoneType:
        return True
    origin = typing.get_origin(annotation)
    if origin in _UNION_TYPES:
        return any(_allows_none(arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return None in typing.get_args(annotation)
    return False


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


def _enum_choices(cls: type[enum.Enum]) -> list[Any]:
    """What the model sends for an Enum: the values when they are JSON scalars, else the names."""
    members = list(cls)
    if all(isinstance(m.value, _JSON_SCALARS) for m in members):
        return [m.value for m in members]
    return [m.name for m in members]


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _is_pydantic_model(tp: Any) -> bool:
    return isinstance(tp, type) and callable(getattr(tp, "model_json_schema", None)) and callable(
        getattr(tp, "model_validate", None)
    )


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
            annotation, note = _strip_annotated(hints.get(field.name, Any))
            prop = _schema_for(annotation, f"field '{field.name}' of {tp.__name__} ({where})")
            properties[field.name] = _with_description(prop, note) if note else prop
            has_default = field.default is not dataclasses.MISSING or (
                field.default_factory is not dataclasses.MISSING
            )
            if not has_default and not _allows_none(annotation):
                required.append(field.name)
    else:
        required_keys = getattr(tp, "__required_keys__", frozenset())
        for key, hint in hints.items():
            annotation, note = _strip_annotated(_strip_required(hint))
            prop = _schema_for(annotation, f"key '{key}' of {tp.__name__} ({where})")
            properties[key] = _with_description(prop, note) if note else prop
            if key in required_keys:
                required.append(key)
    return {"type": "object", "properties": properties, "required": required}


def _strip_required(hint: Any) -> Any:
    """``Required[T]`` / ``NotRequired[T]`` (TypedDict keys, Python 3.11+) -> ``T``."""
    markers = tuple(getattr(typing, n) for n in ("Required", "NotRequired") if hasattr(typing, n))
    while markers and typing.get_origin(hint) in markers:
        hint = typing.get_args(hint)[0]
    return hint


def _schema_for(annotation: Any, where: str) -> dict[str, Any]:
    """The JSON-schema fragment a model needs to send a value of ``annotation``."""
    annotation, _ = _strip_annotated(annotation)
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
        return _enum_schema(_enum_choices(annotation))
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return fields_schema(annotation, where)
    if _is_typeddict(annotation):
        return fields_schema(annotation, where)
    if _is_pydantic_model(annotation):
        schema = annotation.model_json_schema()
        return dict(schema) if isinstance(schema, Mapping) else {"type": "object"}

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        values = [v.value if isinstance(v, enum.Enum) else v for v in args if v is not None]
        if not values:
            raise ToolError(f"{where} is Literal[None]; a model cannot send only null.")
        return _enum_schema(values)
    if origin in _UNION_TYPES:
        arms = [a for a in args if a is not _NoneType]
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
    if container in _ARRAY_TYPES:
        schema: dict[str, Any] = {"type": "array"}
        item_args = [a for a in args if a is not Ellipsis]
        if container is tuple and len(set(map(repr, item_args))) > 1:
            return schema  # a fixed mixed tuple: no single item type
        if item_args:
            schema["items"] = _schema_for(item_args[0], where)
        return schema
    if container in _OBJECT_TYPES:
        return {"type": "object"}
    if annotation is None or annotation is _NoneType:
        raise ToolError(f"{where} is annotated None; a model cannot send only null.")

    shown = getattr(annotation, "__name__", None) or repr(annotation)
    raise ToolError(
        f"{where} has type {shown}, which a model cannot send; use str, int, float, bool, list, "
        "dict, Literal or an Enum (for example annotate it str and parse it inside)."
    )


# --------------------------------------------------------------------------------------------
# Docstrings: first paragraph + per-parameter text (Google, reST/Epytext, NumPy)
# --------------------------------------------------------------------------------------------

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


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
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


# --------------------------------------------------------------------------------------------
# Calls from the model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One tool call a model asked for (an entry of ``message.tool_calls``).

    ``id`` (``call_…``, Ollama 0.12.10+) and ``index`` (0.12.6+) are ``None`` from older servers.

    Example:
        >>> ToolCall.from_wire({"id": "call_a1b2c3d4", "function": {
        ...     "index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}})
        ToolCall(id='call_a1b2c3d4', name='get_weather', arguments={'city': 'Tokyo'}, index=0)
    """

    id: str | None
    name: str
    arguments: dict[str, Any]
    index: int | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ToolCall:
        """Read ``{"id": ..., "function": {"index": ..., "name": ..., "arguments": {...}}}``.

        ``arguments`` may be an object or (from OpenAI-style servers) a JSON string; missing or
        ``null`` arguments are ``{}``. Raises :class:`ToolError` for anything else.
        """
        if not isinstance(data, Mapping):
            raise ToolError(
                f"a tool call must be a JSON object, got {type(data).__name__}: {data!r:.80}"
            )
        function = data.get("function", data)
        if not isinstance(function, Mapping):
            raise ToolError(f"a tool call's 'function' must be an object, got {function!r:.80}")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise ToolError(
                f"the model sent a tool call without a function name: {dict(data)!r:.120}"
            )
        call_id = data.get("id")
        index = function.get("index", data.get("index"))
        return cls(
            id=call_id if isinstance(call_id, str) and call_id else None,
            name=name,
            arguments=_arguments_from_wire(function.get("arguments"), name),
            index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        )

    def as_wire(self) -> dict[str, Any]:
        """This call in wire form, for the assistant message that goes back into the history.

        Example:
            >>> ToolCall(None, "get_weather", {"city": "Toronto"}).as_wire()
            {'function': {'name': 'get_weather', 'arguments': {'city': 'Toronto'}}}
        """
        function: dict[str, Any] = {}
        if self.index is not None:
            function["index"] = self.index
        function["name"] = self.name
        function["arguments"] = dict(self.arguments)
        wire: dict[str, Any] = {}
        if self.id is not None:
            wire["id"] = self.id
        wire["function"] = function
        return wire


def _arguments_from_wire(raw: Any, name: str) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ToolError(
                f"the arguments of the model's call to {name} are not valid JSON "
                f"({exc.msg} at column {exc.colno}): {raw!r:.120}"
            ) from exc
    if not isinstance(raw, Mapping):
        raise ToolError(
            f"the arguments of the model's call to {name} must be a JSON object, got {raw!r:.120}"
        )
    return dict(raw)


@dataclass(frozen=True)
class ToolResult:
    """What running a :class:`ToolCall` gave: the text for the model, and the error if it failed.

    ``content`` is what the model reads. ``error`` is ``None`` on success, else one line
    ``"ExceptionType: message"`` for people (logs, the notebook's status line).

    Example:
        >>> ToolResult(ToolCall(None, "get_weather", {}), "11 degrees celsius").as_message()
        {'role': 'tool', 'content': '11 degrees celsius', 'tool_name': 'get_weather'}
    """

    call: ToolCall
    content: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the tool ran and returned."""
        return self.error is None

    def as_message(self) -> dict[str, Any]:
        """The ``role: "tool"`` chat message; ``tool_call_id`` is added when the call had an id."""
        message: dict[str, Any] = {
            "role": "tool",
            "content": self.content,
            "tool_name": self.call.name,
        }
        if self.call.id is not None:
            message["tool_call_id"] = self.call.id
        return message


class _ArgumentMismatch(Exception):
    """A value the model sent cannot become the annotated type; the text says what was expected."""


def run_tool_call(call: ToolCall, functions: Mapping[str, Callable[..., Any]]) -> ToolResult:
    """Run ``call`` with the function of that name; never raises (except KeyboardInterrupt).

    Arguments are converted to the annotated types where that loses nothing (``"3"`` -> ``3``
    for ``int``, ``"true"`` -> ``True``, ``"red"`` -> ``Color.RED``). The return value becomes
    the content: ``str`` as is, JSON for dicts, lists, numbers, ``None`` and dataclasses, else
    ``str(value)``. An unknown tool, arguments that do not fit, or an exception inside the tool
    give a result with ``error`` set and a content that tells the model how to recover.

    Example:
        >>> def half(n: int) -> float:
        ...     "Half of n."
        ...     return n / 2
        >>> run_tool_call(ToolCall(None, "half", {"n": "3"}), {"half": half}).content
        '1.5'
        >>> r = run_tool_call(ToolCall(None, "double", {}), {"half": half})
        >>> r.error
        "ToolError: there is no tool named 'double'; the tools are: half"
    """
    func = functions.get(call.name)
    if func is None:
        known = ", ".join(sorted(functions)) or "(none)"
        error = f"ToolError: there is no tool named '{call.name}'; the tools are: {known}"
        hint = "Call one of those tools, or answer without tools."
        return ToolResult(call, f"Error: {error}. {hint}", error)

    try:
        args, kwargs = _bind(func, call)
    except (_ArgumentMismatch, TypeError) as exc:
        hint = "Call the tool again with corrected arguments."
        return _failure(call, f"TypeError: {call.name}(): {exc}", hint)
    except Exception as exc:  # a broken signature or hint evaluation
        return _failure(call, _one_line(exc), "Answer without this tool.")

    try:
        value = func(*args, **kwargs)
        if inspect.isawaitable(value):
            close = getattr(value, "close", None)
            if callable(close):
                close()
            raise TypeError("the tool is async; tools must be regular functions")
        content = _content_from(value)
    except Exception as exc:
        return _failure(
            call,
            _one_line(exc),
            "Fix the arguments and call the tool again if that can help, or answer without it.",
        )
    return ToolResult(call, content)


def _failure(call: ToolCall, error: str, hint: str) -> ToolResult:
    error = _shorten(error)
    return ToolResult(call, f"Error: {call.name} failed: {error}. {hint}", error)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_TEXT_LIMIT else text[: _ERROR_TEXT_LIMIT - 1] + "…"


def _one_line(exc: BaseException) -> str:
    message = str(exc)
    return _shorten(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def _bind(func: Callable[..., Any], call: ToolCall) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments for ``func``, converted to the annotated types."""
    signature = inspect.signature(func)
    hints = _type_hints(func, signature, call.name, strict=False)
    arguments = dict(call.arguments)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    params = list(signature.parameters.values())
    accepts_extra = any(p.kind is p.VAR_KEYWORD for p in params)
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, param.empty)
        if param.name in arguments:
            value = _coerce(arguments.pop(param.name), annotation, param.name)
        elif param.default is not param.empty:
            if param.kind is param.POSITIONAL_ONLY:
                args.append(param.default)
            continue
        elif _allows_none(annotation):
            value = None  # Optional without a default: the schema let the model leave it out
        else:
            raise TypeError(f"missing a required argument: '{param.name}'")
        if param.kind is param.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[param.name] = value
    if arguments:
        if not accepts_extra:
            unknown = ", ".join(repr(k) for k in arguments)
            known = ", ".join(
                repr(p.name) for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ) or "none"
            raise TypeError(f"got unexpected argument(s) {unknown}; the arguments are {known}")
        kwargs.update(arguments)
    signature.bind(*args, **kwargs)  # the final word on what the function accepts
    return args, kwargs


def _describe(annotation: Any) -> str:
    annotation, _ = _strip_annotated(annotation)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if annotation in names:
        return names[annotation]
    origin = typing.get_origin(annotation) or annotation
    if origin in (list, tuple, set, frozenset):
        return "a list"
    if origin is dict:
        return "an object"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(json.dumps(c) for c in _enum_choices(annotation))
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


def _coerce(value: Any, annotation: Any, name: str) -> Any:
    """``value`` as ``annotation`` when that is safe; raises _ArgumentMismatch when it cannot be."""
    try:
        return _convert(value, annotation)
    except _ArgumentMismatch:
        raise _ArgumentMismatch(
            f"argument '{name}' must be {_describe(annotation)}, got {_shown(value)}"
        ) from None


def _fail() -> Any:
    raise _ArgumentMismatch()


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _convert(value: Any, annotation: Any) -> Any:
    annotation, _ = _strip_annotated(annotation)
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is object:
        return value
    if hasattr(annotation, "__supertype__"):  # typing.NewType
        return _convert(value, annotation.__supertype__)
    if annotation is None or annotation is _NoneType:
        return None if value is None else _fail()

    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        return _fail()
    if annotation is int:
        if isinstance(value, bool):
            return _fail()
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
                return _fail()
            if math.isfinite(number) and number.is_integer():
                return int(number)
        return _fail()
    if annotation is float:
        if isinstance(value, bool):
            return _fail()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                return _fail()
        return _fail()
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return _fail()

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
            except _ArgumentMismatch:
                continue
        return _fail()
    if origin in _UNION_TYPES:
        if value is None:
            return None if _NoneType in args else _fail()
        arms = [a for a in args if a is not _NoneType]
        for arm in arms:  # an arm the value already is, without conversion
            if _is_instance(value, arm):
                return _convert(value, arm)
        for arm in arms:
            try:
                return _convert(value, arm)
            except _ArgumentMismatch:
                continue
        return _fail()

    container = origin or annotation
    if container in _ARRAY_TYPES:
        if isinstance(value, str):
            value = _json_or_fail(value, list)
        if not isinstance(value, (list, tuple)):
            return _fail()
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                return _fail()
            return tuple(_convert(v, a) for v, a in zip(value, args))
        items = [_convert(v, args[0]) for v in value] if args else list(value)
        if container is tuple:
            return tuple(items)
        if container in _SET_TYPES:
            return frozenset(items) if container is frozenset else set(items)
        return items
    if container in _OBJECT_TYPES:
        if isinstance(value, str):
            value = _json_or_fail(value, dict)
        if not isinstance(value, Mapping):
            return _fail()
        if len(args) == 2:
            return {k: _convert(v, args[1]) for k, v in value.items()}
        return dict(value)

    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _convert_fields(value, annotation, lambda fields: annotation(**fields))
    if _is_typeddict(annotation):
        return _convert_fields(value, annotation, dict)
    if _is_pydantic_model(annotation):
        if isinstance(value, annotation):
            return value
        try:
            return annotation.model_validate(value)
        except Exception:
            return _fail()
    return value  # a type we do not know: the function gets what the model sent


def _convert_fields(value: Any, cls: Any, build: Callable[[dict[str, Any]], Any]) -> Any:
    if isinstance(value, str):
        value = _json_or_fail(value, dict)
    if not isinstance(value, Mapping):
        return _fail()
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:
        hints = {}
    fields = {k: _convert(v, _strip_required(hints.get(k, Any))) for k, v in value.items()}
    try:
        return build(fields)
    except TypeError:
        return _fail()


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
                except _ArgumentMismatch:
                    continue
    return _fail()


def _is_instance(value: Any, annotation: Any) -> bool:
    annotation, _ = _strip_annotated(annotation)
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
        return _fail()
    return value if isinstance(value, kind) else _fail()


def _content_from(value: Any) -> str:
    """The text the model reads for a tool's return value."""
    if isinstance(value, str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif callable(getattr(value, "model_dump_json", None)) and not isinstance(value, type):
        return str(value.model_dump_json())
    if value is None or isinstance(value, (bool, int, float, list, tuple, dict)):
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)
