"""The Ollama HTTP contract as seen by the clients: which failures are retried, and error mapping.

Both :class:`~ollama_nb.Client` and :class:`~ollama_nb.AsyncClient` turn failures into
:class:`~ollama_nb.OllamaError` through these functions, so the two stay twins. (Request bodies
are built by :mod:`ollama_nb.client._request`.)

Example:
    >>> str(status_error(404, b'{"error":"model \\'x\\' not found"}', model="x", host="http://h:1")).splitlines()[0]
    "model 'x' is not on the Ollama server at http://h:1."
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .._errors import (
    ConnectionLostError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    PartialReply,
    ResponseError,
    ServerBusyError,
    SignInRequiredError,
)

__all__ = ["BUSY_STATUSES", "RETRYABLE", "error_text", "read_error", "redirect_error", "request_error", "status_error"]

#: Failures before any byte of a reply arrived: safe to retry (nothing was generated yet).
RETRYABLE: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


def error_text(value: Any) -> str:
    """A server's ``error`` field as one bounded text, whatever its type (a string as it is).

    Example:
        >>> error_text({"message": "boom"})
        '{"message": "boom"}'
    """
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)[:500]
    except (ValueError, TypeError, RecursionError):
        return type(value).__name__


def _error_body(content: bytes) -> tuple[str, dict[str, Any]]:
    """The server's ``error`` text and the whole JSON body (``{}`` when it is not a JSON object)."""
    text = content.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text[:500] or "(empty body)", {}
    if isinstance(data, dict) and "error" in data:
        return _unwrapped(error_text(data["error"])), data
    return text[:500], data if isinstance(data, dict) else {}


def _unwrapped(error: str) -> str:
    """llama-server's own error body, which Ollama passes on as the text of its ``error``
    (``{"error":{"message":...}}``), reduced to its message; any other text as it is."""
    if not error.startswith("{"):
        return error
    try:
        inner = json.loads(error)
    except (ValueError, RecursionError):
        return error
    detail = inner.get("error", inner) if isinstance(inner, dict) else None
    message = detail.get("message") if isinstance(detail, dict) else detail
    return message if isinstance(message, str) and message else error


_HINTS: tuple[tuple[str, str], ...] = (
    ("does not support thinking", "Run without --think / think=, or choose a model that can think."),
    ("does not support tools", "Run without tools, or choose a model that supports tools."),
    ("does not support", "Choose a model with that capability (`%ollama show MODEL` lists them)."),
    ("server busy", "Ollama's queue is full: wait a moment and run it again."),
    ("prompt is longer than the context", "Shorten the prompt or raise num_ctx (--num-ctx)."),
    (
        "exceeds the available context size",
        "Not cut (truncate=False): shorten the prompt or raise num_ctx (--num-ctx).",
    ),
    ("missing unit in duration", "keep_alive needs a unit, e.g. '5m' or '30s'."),
    (
        "invalid think value",
        "Use think=True/False or a level the model knows: low, medium, high, max (case-sensitive).",
    ),
    ("think must be a boolean or string", "Use think=True/False or a level: low, medium, high, max."),
    (
        "ollama cloud is disabled",
        "Cloud models are turned off on that server (OLLAMA_NO_CLOUD or ~/.ollama/server.json).",
    ),
)

#: Statuses that mean "busy, try again": retried with backoff before the first byte.
BUSY_STATUSES = frozenset({429, 503})


def status_error(
    status: int, content: bytes, *, model: str | None, host: str, attempts: int = 1, api_key_sent: bool = False
) -> ResponseError:
    """The error for an HTTP error status: 404 about a model is :class:`ModelNotFoundError`, 401
    :class:`SignInRequiredError` (with the body's ``signin_url``), 503/429 :class:`ServerBusyError`."""
    error, body = _error_body(content)
    if status == 401:
        url = body.get("signin_url")
        return SignInRequiredError(
            error, host=host, signin_url=url if isinstance(url, str) else None, api_key_sent=api_key_sent
        )
    if status in BUSY_STATUSES:
        return ServerBusyError(status, error, host=host, attempts=attempts)
    if status == 404 and model is not None and "not found" in error and "page" not in error:
        return ModelNotFoundError(model, host=host, error=error)
    if status == 404:
        return ResponseError(status, error, host=host, hint=f"Is {host} really an Ollama server? Check OLLAMA_HOST.")
    hint = next((h for needle, h in _HINTS if needle in error), "")
    return ResponseError(status, error, host=host, hint=hint)


def redirect_error(status: int, location: str, *, host: str) -> ResponseError:
    """The error for a 3xx answer: redirects are not followed (a key or a prompt could go elsewhere).

    Example:
        >>> str(redirect_error(301, "https://elsewhere.example/", host="http://h:1")).splitlines()[0]
        "Ollama at http://h:1 answered 301: a redirect to 'https://elsewhere.example/'"
    """
    where = repr(location[:300]) if location else "nowhere (no Location header)"
    return ResponseError(
        status, f"a redirect to {where}", host=host,
        hint="Redirects are not followed: if you trust that address, use it as the host (OLLAMA_HOST or host=).",
    )


def request_error(exc: Exception, host: str) -> OllamaError:
    """The error for a failure before any byte of a reply arrived."""
    if isinstance(exc, httpx.InvalidURL):  # httpx reads a redirect's Location even when not following it
        return OllamaError(
            f"Ollama at {host} answered with a redirect to an address that cannot be read ({exc}).\n"
            "Redirects are not followed: is that address really an Ollama server? Check OLLAMA_HOST."
        )
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        timeout = getattr(getattr(exc, "request", None), "extensions", {}).get("timeout", {})
        return OllamaTimeoutError(host, timeout.get("read") if isinstance(timeout, dict) else None)
    details: dict[type[Exception], str] = {
        httpx.ConnectTimeout: "connection timed out",
        httpx.RemoteProtocolError: "it closed the connection without answering",
        httpx.ReadError: "it closed the connection without answering",
        httpx.WriteError: "it closed the connection without answering",
        httpx.UnsupportedProtocol: "that is not an http:// or https:// address",
    }
    fallback = "connection refused" if isinstance(exc, httpx.ConnectError) else str(exc) or type(exc).__name__
    detail = details.get(type(exc), fallback)
    return OllamaConnectionError(host, detail=detail)


def read_error(exc: Exception, host: str, *, kept: int, reply: PartialReply | None) -> OllamaError:
    """The error for a failure while the body streamed (the partial reply is kept)."""
    if isinstance(exc, httpx.TimeoutException):
        timeout = getattr(getattr(exc, "request", None), "extensions", {}).get("timeout", {})
        return OllamaTimeoutError(host, timeout.get("read") if isinstance(timeout, dict) else None, reply=reply)
    return ConnectionLostError(host, kept=kept, detail=str(exc), reply=reply)
