"""What is asked of Ollama: one frozen description of a request, its wire body built in one place.

Like httpx's ``Request``: a :class:`ChatRequest` or :class:`GenerateRequest` is built once, from
keyword arguments, and a client turns it into a lazy reply (``client.reply(request)``). The
clients' ``chat``/``generate`` and the :class:`~ollama_nb.Session` methods all build one of these,
so a new Ollama parameter is one field here: its name is the keyword, its wire key and the keyword
accepted by every caller. A field whose value is ``None`` is left out of the body; a field with
``wire=`` metadata is encoded on the way out (images to base64, Python tools to schemas, a
dataclass ``format`` to a JSON schema).

Example:
    >>> request = ChatRequest(model="llama3.2", messages=[{"role": "user", "content": "hi"}], options={"seed": 1})
    >>> request.path
    '/api/chat'
    >>> request.body()
    {'model': 'llama3.2', 'messages': [{'role': 'user', 'content': 'hi'}], 'stream': True, 'options': {'seed': 1}}
    >>> ChatRequest.split({"think": True, "temperature": 0.2})
    ({'think': True}, {'temperature': 0.2})
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

__all__ = ["ChatRequest", "GenerateRequest", "Request"]

#: Names a caller may not pass as a request parameter (the methods take them positionally).
_POSITIONAL = frozenset({"model", "messages", "prompt", "stream"})


def _wire(encode: Callable[[Any], Any]) -> dict[str, Any]:
    """Field metadata: how the field's value is written on the wire."""
    return {"wire": encode}


def _options(options: Mapping[str, Any]) -> dict[str, Any] | None:
    return dict(options) or None


def _messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(m) for m in messages]


def _tools(tools: Sequence[Any]) -> list[Mapping[str, Any]] | None:
    """Tool schemas for the wire: dicts pass through, Python functions are described."""
    if not tools:
        return None
    from .._tools import tool_schema

    return [t if isinstance(t, Mapping) else tool_schema(t) for t in tools]


def _images(images: Sequence[Any]) -> list[str] | None:
    if not images:
        return None
    from .._images import encode_images

    return encode_images(images)


def _format(fmt: Any) -> str | dict[str, Any] | None:
    from .._structured import format_value

    return format_value(fmt)


@dataclass(frozen=True, kw_only=True)
class Request:
    """What chat and generate requests share: the model and the generation parameters.

    Subclasses add what the endpoint needs (messages, or a prompt). Adding an Ollama parameter
    is adding a field here.
    """

    endpoint: ClassVar[str] = ""

    model: str
    stream: bool = True
    format: Any = field(default=None, metadata=_wire(_format))
    keep_alive: str | float | None = None
    options: Mapping[str, Any] | None = field(default=None, metadata=_wire(_options))
    think: bool | str | None = None
    truncate: bool | None = None
    shift: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None

    @property
    def path(self) -> str:
        """The URL path, e.g. ``/api/chat``."""
        return f"/api/{self.endpoint}"

    def body(self) -> dict[str, Any]:
        """The JSON body: the model, the endpoint's own fields, then the shared ones; ``None`` left out."""
        body: dict[str, Any] = {}
        for f in self._wire_fields():
            value = getattr(self, f.name)
            if value is None:
                continue
            encode = f.metadata.get("wire")
            if encode is not None:
                value = encode(value)
                if value is None:
                    continue
            body[f.name] = value
        return body

    @classmethod
    @functools.cache
    def _wire_fields(cls) -> tuple[dataclasses.Field[Any], ...]:
        every = dataclasses.fields(cls)
        shared = {f.name for f in dataclasses.fields(Request)}
        own = [f for f in every if f.name not in shared]
        return (every[0], *own, *(f for f in every[1:] if f.name in shared))

    @classmethod
    @functools.cache
    def parameter_names(cls) -> frozenset[str]:
        """The keyword parameters a caller may give (every field but model/messages/prompt/stream)."""
        return frozenset(f.name for f in dataclasses.fields(cls)) - _POSITIONAL

    @classmethod
    def split(cls, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(request parameters, Ollama options)`` from one keyword dict (as ``Session.chat`` takes).

        A name the request knows is a request parameter; any other is an Ollama option.
        """
        taken = {k for k in params if k in _POSITIONAL}
        if taken:
            raise TypeError(f"{', '.join(sorted(taken))} cannot be given as a keyword here")
        names = cls.parameter_names()
        known = {k: v for k, v in params.items() if k in names}
        return known, {k: v for k, v in params.items() if k not in names}


@dataclass(frozen=True, kw_only=True)
class ChatRequest(Request):
    """``POST /api/chat``: a conversation so far, and the tools the model may call.

    ``tools`` holds Python functions or JSON schema dicts; the body describes functions.

    Example:
        >>> ChatRequest(model="m", messages=[{"role": "user", "content": "x"}]).messages
        ({'role': 'user', 'content': 'x'},)
    """

    endpoint: ClassVar[str] = "chat"

    messages: Sequence[Mapping[str, Any]] = field(default=(), metadata=_wire(_messages))
    tools: Sequence[Any] | None = field(default=None, metadata=_wire(_tools))

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", tuple(self.messages))
        if self.tools is not None:
            object.__setattr__(self, "tools", tuple(self.tools))

    def tool_functions(self) -> dict[str, Callable[..., Any]]:
        """The Python functions among ``tools``, by the name the model calls them with."""
        from .._tools import tools_by_name

        return tools_by_name([t for t in self.tools or () if callable(t)])


@dataclass(frozen=True, kw_only=True)
class GenerateRequest(Request):
    """``POST /api/generate``: one prompt, with an optional system prompt and images."""

    endpoint: ClassVar[str] = "generate"

    prompt: str = ""
    system: str | None = None
    images: Sequence[Any] | None = field(default=None, metadata=_wire(_images))
