"""Byte pieces of /api/chat and /api/generate chunk lines, in Go's struct field order.

Chat: ``model, [remote_model, remote_host], created_at, message, done, [done_reason],
[logprobs], [metrics]`` (api/types.go:520-549). Generate: ``model, [remote_*], created_at,
response, [thinking], done, [done_reason], [context], [metrics], [tool_calls], [logprobs]``
(api/types.go:890-930).

Example:
    >>> shape = Shape("llama3.2", is_chat=False)
    >>> shape.head
    b'{"model":"llama3.2","created_at":"'
    >>> shape.done_line({"model": "m", "done": True, "done_reason": "stop"}, [b'{"token":"a","logprob":-1}'])
    b'{"model":"m","done":true,"done_reason":"stop","logprobs":[{"token":"a","logprob":-1}]}'
"""

from __future__ import annotations

import time
from typing import Any

from ._cloud import remote_of
from ._logprobs import logprobs_array
from ._wire import go_json, json_string, rfc3339_nano

__all__ = ["CONTENT", "THINK", "TOOLS", "Shape"]

THINK, CONTENT, TOOLS = 0, 1, 2


class Shape:
    """Byte pieces of one endpoint's chunk lines, for one model name."""

    def __init__(self, model: str, is_chat: bool) -> None:
        self.model, self.is_chat = model, is_chat
        self.remote = remote_of(model)  # legacy remote model: remote_model/remote_host after model
        extra = b""
        if self.remote:
            extra = b',"remote_model":' + json_string(self.remote[0]) + b',"remote_host":' + json_string(self.remote[1])
        self.head = b'{"model":' + json_string(model) + extra + b',"created_at":"'
        if is_chat:
            message = b'","message":{"role":"assistant","content":'
            self.mids = (message + b'"","thinking":', message, message + b'"","tool_calls":')
            self.tail = b'},"done":false}\n'
        else:
            self.mids = (b'","response":"","thinking":', b'","response":', b'","response":"","tool_calls":')
            self.tail = b',"done":false}\n'
        self.logprobs_tail = self.tail[:-2] + b',"logprobs":'  # + array + b"}\n"

    def done(self, reason: str, *, text: str = "", thinking: str = "", calls: list[Any] | None = None,
             context: list[int] | None = None, metrics: dict[str, int] | None = None) -> dict[str, Any]:
        """The final object (Go ``ChatResponse`` / ``GenerateResponse`` field order)."""
        out: dict[str, Any] = {"model": self.model}
        if self.remote:
            out["remote_model"], out["remote_host"] = self.remote
        out["created_at"] = rfc3339_nano(time.time_ns())
        if self.is_chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if thinking:
                message["thinking"] = thinking
            if calls:
                message["tool_calls"] = calls
            out["message"] = message
        else:
            out["response"] = text
            if thinking:
                out["thinking"] = thinking
        out["done"] = True
        out["done_reason"] = reason
        if context:
            out["context"] = context
        out.update(metrics or {})
        if calls and not self.is_chat:
            out["tool_calls"] = calls
        return out

    def done_line(self, done: dict[str, Any], logprobs: list[bytes]) -> bytes:
        """The final object as bytes, with ``logprobs`` where Go puts it (chat: before the
        metrics; generate: last key); omitted when empty, like Go's ``omitempty``."""
        if not logprobs:
            return go_json(done)
        array = logprobs_array(logprobs)
        if not self.is_chat:
            return go_json(done)[:-1] + b',"logprobs":' + array + b"}"
        cut = list(done).index("done_reason") + 1 if "done_reason" in done else len(done)
        head, metrics = dict(list(done.items())[:cut]), dict(list(done.items())[cut:])
        tail = b"," + go_json(metrics)[1:] if metrics else b"}"
        return go_json(head)[:-1] + b',"logprobs":' + array + tail
