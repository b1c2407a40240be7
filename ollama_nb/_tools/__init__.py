"""Python functions as Ollama tools: schema from a signature, and running the calls a model makes.

A package of small modules along the seams: ``_types`` (type-hint helpers), ``_docstrings``
(parameter text from Google/reST/NumPy docstrings), ``_schema`` (function -> JSON schema),
``_coercion`` (JSON arguments -> annotated types) and ``_calls`` (ToolCall, ToolResult, running).

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

from .._errors import ToolError
from ._calls import ToolCall, ToolResult, run_tool_call
from ._schema import fields_schema, tool_schema, tools_by_name

__all__ = [
    "DEFAULT_MAX_TOOL_ROUNDS",
    "ToolCall",
    "ToolError",
    "ToolResult",
    "fields_schema",
    "run_tool_call",
    "tool_schema",
    "tools_by_name",
]

#: How many times in a row a reply may ask for tools before the loop stops and returns what it has.
DEFAULT_MAX_TOOL_ROUNDS = 5

