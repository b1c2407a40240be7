"""The Ollama HTTP contract as seen by the clients: request bodies and error mapping.

Both :class:`~ollama_nb.Client` and :class:`~ollama_nb.AsyncClient` build their requests and
turn failures into :class:`~ollama_nb.OllamaError` through these functions, so the two stay twins.

Example:
    >>> chat_body("llama3.2", [{"role": "user", "content": "hi"}], options={"seed": 1})
    {'model': 'llama3.2', 'messages': [{'role': 'user', 'content': 'hi'}], 'stream': True, 'options': {'seed': 1}}
    >>> str(status_error(404, b'{"error":"model \\'x\\' not found"}', model="x", host="http://h:1")).splitlines()[0]
    "model 'x' is not on the Ollama server at http://h:1."
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import httpx

from ._errors import (
    ConnectionLostError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    ResponseError,
)

__all__ = [
    "RETRYABLE",
    "chat_body",
    "generate_body",
    "read_error",
    "request_error",
    "status_error",
    "tool_schemas",
]

#: Failures before any byte of a reply arrived: safe to retry (nothing was generated yet).
RETRYABLE: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


def _put(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    for key, value in fields.items():
        if value is not None:
            body[key] = value
    return body


def tool_schemas(tools: Sequence[Any] | None) -> list[dict[str, Any]] | None:
    """Tool schemas for the wire: dicts pass through, Python functions are described."""
    if not tools:
        return None
    from ._tools import tool_schema

    return [t if isinstance(t, Mapping) else tool_schema(t) for t in tools]


def chat_body(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    options: Mapping[str, Any] | None = None,
    think: bool | str | None = None,
    tools: Sequence[Any] | None = None,
    format: str | Mapping[str, Any] | None = None,
    keep_alive: str | float | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/chat``."""
    body: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages], "stream": stream}
    return _put(
        body,
        tools=tool_schemas(tools),
        format=format,
        options=dict(options) if options else None,
        think=think,
        keep_alive=keep_alive,
    )


def generate_body(
    model: str,
    prompt: str,
    *,
    system: str | None = None,
    images: Sequence[Any] | None = None,
    options: Mapping[str, Any] | None = None,
    think: bool | str | None = None,
    format: str | Mapping[str, Any] | None = None,
    keep_alive: str | float | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/generate``."""
    body: dict[str, Any] = {"model": model, "prompt": prompt, "stream": stream}
    if images:
        from ._images import encode_images

        body["images"] = encode_images(images)
    return _put(
        body,
        system=system,
        format=format,
        options=dict(options) if options else None,
        think=think,
        keep_alive=keep_alive,
    )


def _error_text(content: bytes) -> str:
    text = content.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text or "(empty body)"
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    return text


_HINTS: tuple[tuple[str, str], ...] = (
    ("does not support thinking", "Run without --think / think=, or choose a model that can think."),
    ("does not support tools", "Run without tools, or choose a model that supports tools."),
    ("does not support", "Choose a model with that capability (`%ollama show MODEL` lists them)."),
    ("server busy", "Ollama's queue is full: wait a moment and run it again."),
    ("prompt is longer than the context", "Shorten the prompt or raise num_ctx (--num-ctx)."),
    ("missing unit in duration", "keep_alive needs a unit, e.g. '5m' or '30s'."),
)


def status_error(status: int, content: bytes, *, model: str | None, host: str) -> ResponseError:
    """The error for an HTTP error status; 404 about a model becomes :class:`ModelNotFoundError`."""
    error = _error_text(content)
    if status == 404 and model is not None and "not found" in error and "page" not in error:
        return ModelNotFoundError(model, host=host, error=error)
    if status == 404:
        return ResponseError(status, error, host=host, hint=f"Is {host} really an Ollama server? Check OLLAMA_HOST.")
    hint = next((h for needle, h in _HINTS if needle in error), "")
    return ResponseError(status, error, host=host, hint=hint)


def request_error(exc: Exception, host: str) -> OllamaError:
    """The error for a failure before any byte of a reply arrived."""
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        timeout = getattr(getattr(exc, "request", None), "extensions", {}).get("timeout", {})
        return OllamaTimeoutError(host, timeout.get("read") if isinstance(timeout, dict) else None)
    detail = {
        httpx.ConnectTimeout: "connection timed out",
        httpx.RemoteProtocolError: "it closed the connection without answering",
        httpx.UnsupportedProtocol: "that is not an http:// or https:// address",
    }.get(type(exc), "connection refused" if isinstance(exc, httpx.ConnectError) else str(exc) or type(exc).__name__)
    return OllamaConnectionError(host, detail=detail)


def read_error(exc: Exception, host: str, *, kept: int, reply: Any) -> OllamaError:
    """The error for a failure while the body streamed (the partial reply is kept)."""
    if isinstance(exc, httpx.TimeoutException):
        timeout = getattr(getattr(exc, "request", None), "extensions", {}).get("timeout", {})
        return OllamaTimeoutError(host, timeout.get("read") if isinstance(timeout, dict) else None, reply=reply)
    return ConnectionLostError(host, kept=kept, detail=str(exc), reply=reply)

