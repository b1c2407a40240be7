r"""A recorded answer replayed as a reply: the same chunks, the same display, no request sent.

The recorded text is turned back into the NDJSON lines Ollama would have sent (one per line of
text, then the ``done`` line with the recorded statistics) and fed through the ordinary
:class:`~ollama_nb.Reply` machinery by an opener that returns those bytes instead of an HTTP
response, so everything that reads a reply (the view, ``-o VAR``, the session) works unchanged.

Example:
    >>> entry = RecordedTurn(host="h", endpoint="generate", model="m", prompt="hi", text="a\nb", id=3)
    >>> lines = recorded_lines(entry)
    >>> [json.loads(line)["response"] for line in lines], json.loads(lines[-1])["done"]
    (['a\n', 'b', ''], True)
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Iterator

from .._reply import AsyncReply, Reply
from ._entry import RecordedTurn

__all__ = ["AsyncReplayedReply", "ReplayedReply", "recorded_lines"]

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
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"

    lines = [line(thinking=piece) for piece in entry.thinking.splitlines(keepends=True)]
    lines += [line(piece) for piece in entry.text.splitlines(keepends=True)]
    lines.append(line(done=True, done_reason=entry.done_reason or "stop", **_stats(entry)))
    return lines


class _RecordedBody:
    """Stands in for the streaming HTTP response: the recorded lines, then the end."""

    headers: dict[str, str] = {}
    extensions: dict[str, Any] = {}

    def __init__(self, lines: list[bytes]) -> None:
        self._lines = lines

    def iter_raw(self) -> Iterator[bytes]:
        return iter(self._lines)

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        for data in self._lines:
            yield data

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


class _RecordedOpener:
    """Stands in for the client: opening the stream returns the recorded body."""

    def __init__(self, entry: RecordedTurn, host: str) -> None:
        self.entry = entry
        self.host = host

    def _open_stream(self, reply: Any) -> _RecordedBody | None:
        if reply._stop_check():
            return None
        reply._mark_sent()
        return _RecordedBody(recorded_lines(self.entry))

    async def _aopen_stream(self, reply: Any) -> _RecordedBody | None:
        return self._open_stream(reply)


class ReplayedReply(Reply):
    """A :class:`~ollama_nb.Reply` whose answer comes from the record; ``reused_from`` is that turn."""

    def __init__(self, entry: RecordedTurn, *, like: Any) -> None:
        super().__init__(_RecordedOpener(entry, like.host), model=like.model, endpoint=like.endpoint, body=like.request)  # type: ignore[arg-type]
        self.reused_from = entry


class AsyncReplayedReply(AsyncReply):
    """The async twin of :class:`ReplayedReply`."""

    def __init__(self, entry: RecordedTurn, *, like: Any) -> None:
        super().__init__(_RecordedOpener(entry, like.host), model=like.model, endpoint=like.endpoint, body=like.request)  # type: ignore[arg-type]
        self.reused_from = entry


def replayed(entry: RecordedTurn, like: Any) -> Any:
    """A replay of ``entry`` shaped like the (unsent) reply ``like``: sync or async as it is."""
    cls = AsyncReplayedReply if isinstance(like, AsyncReply) else ReplayedReply
    return cls(entry, like=like)
