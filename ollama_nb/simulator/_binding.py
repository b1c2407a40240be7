"""Reading request bodies the way Ollama's Go handlers do, with the same error texts.

Example:
    >>> bind(b'{"model": "llama3.2"}', "ChatRequest")
    {'model': 'llama3.2'}
    >>> try:
    ...     bind(b"", "ChatRequest")
    ... except RequestError as exc:
    ...     exc.status, exc.message
    (400, 'missing request body')
"""

from __future__ import annotations

import json
from typing import Any

from ._wire import decoded_base64_size, go_base64_error, go_json_error, parse_go_duration

__all__ = ["RequestError", "bind", "image_sizes", "keep_alive_seconds", "option_error", "think_level"]


class RequestError(Exception):
    """An error answer: HTTP status + the ``error`` text (+ extra keys such as ``signin_url``)."""

    def __init__(self, status: int, message: str, *, extra: dict[str, Any] | None = None,
                 content_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.content_type = content_type


_GO_TYPES = {"model": "string", "prompt": "string", "system": "string", "suffix": "string",
             "template": "string", "name": "string", "messages": "[]api.Message", "stream": "bool",
             "raw": "bool", "insecure": "bool", "verbose": "bool", "context": "[]int",
             "images": "[]api.ImageData", "tools": "api.Tools",
             "options": "map[string]interface {}", "logprobs": "bool", "top_logprobs": "int",
             "truncate": "bool", "shift": "bool", "dimensions": "int"}
_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "bool": bool, "[]api.Message": list, "[]int": list,
    "[]api.ImageData": list, "api.Tools": list, "map[string]interface {}": dict, "int": int,
}
_NEW_2026 = ("logprobs", "top_logprobs", "truncate", "shift")
_FIELDS = {
    "ChatRequest": ("model", "messages", "stream", "tools", "options", *_NEW_2026),
    "GenerateRequest": ("model", "prompt", "suffix", "system", "template", "context", "stream",
                        "raw", "images", "options", *_NEW_2026),
    "ShowRequest": ("model", "system", "template", "verbose", "options", "name"),
    "PullRequest": ("model", "insecure", "stream", "name"),
    "EmbedRequest": ("model", "truncate", "dimensions", "options"),  # input is `any`: checked by the endpoint
    "EmbeddingRequest": ("model", "prompt", "options"),
}
_THINKS = ("ChatRequest", "GenerateRequest", "ShowRequest", "PullRequest")  # the embed requests have no think
_MESSAGE_FIELDS = ("role", "content", "thinking", "tool_name", "tool_call_id", "images")


def _go_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "value"


def _type_error(value: Any, where: str, go_type: str) -> RequestError:
    return RequestError(400, f"json: cannot unmarshal {_go_kind(value)} into Go struct field {where} of type {go_type}")


def _check_images(images: Any, where: str) -> None:
    if images is None:
        return
    if not isinstance(images, list):
        raise _type_error(images, where, "[]api.ImageData")
    for image in images:
        if not isinstance(image, str):
            raise _type_error(image, where, "api.ImageData")
        position = go_base64_error(image)
        if position is not None:
            raise RequestError(400, f"illegal base64 data at input byte {position}")


def _check_messages(messages: list[Any]) -> None:
    for message in messages:
        if message is None:
            continue
        if not isinstance(message, dict):
            raise _type_error(message, "ChatRequest.messages", "api.Message")
        for key in _MESSAGE_FIELDS:
            value = message.get(key)
            if key == "images":
                _check_images(value, "ChatRequest.messages.images")
            elif value is not None and not isinstance(value, str):
                raise _type_error(value, f"ChatRequest.messages.{key}", "string")


def bind(raw: bytes, kind: str) -> dict[str, Any]:
    """Parse a JSON request body like gin's ``ShouldBindJSON`` into ``api.<kind>``.

    Trailing bytes after the first JSON value are ignored, as Go's ``json.Decoder`` does.
    """
    text = raw.decode("utf-8", "replace")
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        raise RequestError(400, "missing request body")
    try:
        value, _ = json.JSONDecoder().raw_decode(text, len(text) - len(stripped))
    except json.JSONDecodeError as exc:
        raise RequestError(400, go_json_error(text, exc)) from None
    if not isinstance(value, dict):
        raise RequestError(400, f"json: cannot unmarshal {_go_kind(value)} into Go value of type api.{kind}")
    for key in _FIELDS[kind]:
        field = value.get(key)
        go_type = _GO_TYPES[key]
        if go_type == "int" and isinstance(field, float):  # Go: "number 1.5" does not fit an int
            raise RequestError(400, f"json: cannot unmarshal number {field!r} into Go struct field "
                                    f"{kind}.{key} of type int")
        wrong_bool = go_type == "int" and isinstance(field, bool)
        if field is not None and (wrong_bool or not isinstance(field, _PY_TYPES[go_type])):
            raise _type_error(field, f"{kind}.{key}", go_type)
    if kind == "ChatRequest":
        _check_messages(value.get("messages") or [])
    if kind == "GenerateRequest":
        _check_images(value.get("images"), "GenerateRequest.images")
    if kind in _THINKS:
        think_level(value.get("think"))
    keep_alive_seconds(value.get("keep_alive"))
    return value


def think_level(think: Any) -> str | None:
    """None when thinking is off, else "true" or the level; RequestError with Ollama's text for bad values.

    Accepted: absent/null, true, false, "low", "medium", "high", "max" (case-sensitive).

    Example:
        >>> think_level("max"), think_level(False)
        ('max', None)
    """
    if think is None or think is False:
        return None
    if think is True:
        return "true"
    if isinstance(think, str) and think in ("high", "medium", "low", "max"):
        return think
    if not isinstance(think, str):  # a number, object or array (api/types.go:1221)
        raise RequestError(400, 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)')
    shown = json.dumps(think, ensure_ascii=False)
    raise RequestError(400, f'invalid think value: {shown} (must be "high", "medium", "low", "max", true, or false)')


def keep_alive_seconds(value: Any) -> float | None:
    """``keep_alive`` as seconds (None = default, <0 = forever); RequestError like Go's."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RequestError(400, "json: cannot unmarshal bool into Go value of type api.Duration")
    if isinstance(value, (int, float)):
        return -1.0 if value < 0 else float(value)
    if isinstance(value, str):
        try:
            seconds = parse_go_duration(value)
        except ValueError as exc:
            raise RequestError(400, str(exc)) from None
        return -1.0 if seconds < 0 else seconds
    raise RequestError(400, f"json: cannot unmarshal {_go_kind(value)} into Go value of type api.Duration")


_INT_OPTIONS = {"num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "mirostat", "num_ctx",
                "num_batch", "num_gpu", "main_gpu", "num_thread"}
_FLOAT_OPTIONS = {"top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
                  "frequency_penalty", "mirostat_tau", "mirostat_eta"}
_BOOL_OPTIONS = {"penalize_newline", "numa", "low_vram", "use_mmap", "use_mlock", "vocab_only"}


def option_error(options: dict[str, Any]) -> str | None:
    """Go's ``Options.FromMap`` error text for a wrongly typed option (unknown keys are fine)."""
    for key, value in options.items():
        if value is None:
            continue
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in _INT_OPTIONS and not is_number:
            return f"option {json.dumps(key)} must be of type integer"
        if key in _FLOAT_OPTIONS and not is_number:
            return f"option {json.dumps(key)} must be of type float32"
        if key in _BOOL_OPTIONS and not isinstance(value, bool):
            return f"option {json.dumps(key)} must be of type boolean"
        if key == "stop" and not (isinstance(value, list) and all(isinstance(s, str) for s in value)):
            return f"option {json.dumps(key)} must be of an array of strings"
    return None


def image_sizes(images: list[Any]) -> tuple[int, ...]:
    """Decoded byte sizes of already validated base64 images."""
    return tuple(decoded_base64_size(image) for image in images if isinstance(image, str))
