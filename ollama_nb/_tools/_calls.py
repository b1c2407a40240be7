"""Calls from the model: :class:`ToolCall` read from the wire, run by :func:`run_tool_call`, and
the :class:`ToolResult` sent back as a ``role: "tool"`` message."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .._errors import ToolError
from ._coercion import ArgumentMismatch, coerce
from ._types import allows_none, type_hints

__all__ = ["ToolCall", "ToolResult", "run_tool_call"]

_ERROR_TEXT_LIMIT = 500


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
    except (ArgumentMismatch, TypeError) as exc:
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
    hints = type_hints(func, signature, call.name, strict=False)
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
            value = coerce(arguments.pop(param.name), annotation, param.name)
        elif param.default is not param.empty:
            if param.kind is param.POSITIONAL_ONLY:
                args.append(param.default)
            continue
        elif allows_none(annotation):
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
