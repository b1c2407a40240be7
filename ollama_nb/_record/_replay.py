r"""A recorded answer replayed as a reply: the same chunks, the same display, no request sent.

The recorded text is turned back into the NDJSON lines Ollama would have sent (one per line of
text, then the ``done`` line with the recorded statistics) and fed through the ordinary
:class:`~ollama_nb.Reply` machinery by an opener that returns those bytes as the response instead
of sending the request, so everything that reads a reply (the view, ``-o VAR``, the session)
works unchanged. :class:`~ollama_nb._record.RecordingReply` uses these openers.

Example:
    >>> entry = RecordedTurn(host="h", endpoint="generate", model="m", prompt="hi", text="a\nb", id=3)
    >>> import json
    >>> lines = recorded_lines(entry)
    >>> [json.loads(line)["response"] for line in lines], json.loads(lines[-1])["done"]
    (['a\n', 'b', ''], True)
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import httpx

from .._finite import finite_json
from ..client import AsyncOpener, BeforeSend, Opener
from ._entry import RecordedTurn

__all__ = ["async_recorded_opener", "recorded_lines", "recorded_opener"]

_NS = 1_000_000_000


def _stats(entry: RecordedTurn) -> dict[str, Any]:
    t = entry.timing
    stats: dict[str, Any] = {}
    for key, value, scale in (
        ("total_duration", t.server_total_s, _NS), ("load_duration", t.load_s, _NS),
        ("prompt_eval_count", t.prompt_tokens, 1), ("prompt_eval_duration", t.prompt_eval_s, _NS),
        ("eval_count", None if t.estimated else t.output_tokens, 1), ("eval_duration", t.eval_s, _NS),
    ):
        if value is not None:
            stats[key] = int(value * scale) if scale != 1 else int(value)
    return stats


def recorded_lines(entry: RecordedTurn) -> list[bytes]:
    """The NDJSON lines (with their newline) of ``entry``'s answer: thinking, text, ``done``."""
    chat = entry.endpoint == "chat"

    def line(content: str = "", thinking: str = "", **extra: Any) -> bytes:
        obj: dict[str, Any] = {"model": entry.model}
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            obj["message"] = message
        else:
            obj["response"] = content
            if thinking:
                obj["thinking"] = thinking
        obj.update(extra)
        obj.setdefault("done", False)
        return finite_json(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"

    lines = [line(thinking=piece) for piece in entry.thinking.splitlines(keepends=True)]
    lines += [line(piece) for piece in entry.text.splitlines(keepends=True)]
    lines.append(line(done=True, done_reason=entry.done_reason or "stop", **_stats(entry)))
    return lines


def recorded_opener(entry: RecordedTurn) -> Opener:
    """An opener (see :mod:`ollama_nb.client._reply`) that returns the recorded answer as a response."""

    def open_stream(body: dict[str, Any], before_send: BeforeSend) -> httpx.Response:
        before_send()
        return httpx.Response(200, content=iter(recorded_lines(entry)))

    return open_stream


def async_recorded_opener(entry: RecordedTurn) -> AsyncOpener:
    """The asyncio twin of :func:`recorded_opener`."""

    async def open_stream(body: dict[str, Any], before_send: BeforeSend) -> httpx.Response:
        before_send()

        async def lines() -> AsyncIterator[bytes]:
            for line in recorded_lines(entry):
                yield line

        return httpx.Response(200, content=lines())

    return open_stream
