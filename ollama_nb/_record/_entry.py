"""One recorded turn as a frozen dataclass: what :class:`~ollama_nb.Record` writes and reads back.

:func:`entry_from_reply` builds one from a reply that has ended; a batch builds its own the same
way and tags it with ``batch=``. Secrets never enter: only the request body (no headers) is kept.

Example:
    >>> e = RecordedTurn(host="http://127.0.0.1:11434", endpoint="generate", model="llama3.2",
    ...                  prompt="hi", text="Hello!")
    >>> e.status, e.reusable
    ('done', False)
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from .._finite import finite_json
from .._status import TurnStatus, status_of
from .._timing import Timing

__all__ = ["RecordedTurn", "entry_from_reply", "now_utc"]


def now_utc() -> str:
    """The current time, ISO 8601 in UTC to the millisecond."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class RecordedTurn:
    """A turn as the record holds it. ``id`` and ``recorded_at`` are set when it is written."""

    host: str
    endpoint: str
    model: str
    prompt: str
    text: str = ""
    thinking: str = ""
    status: TurnStatus = "done"
    error: str | None = None
    done_reason: str | None = None
    system: str | None = None
    messages: tuple[Mapping[str, Any], ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    format: Any = None
    tools: tuple[Mapping[str, Any], ...] = ()
    think: Any = None
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    tool_results: tuple[Mapping[str, Any], ...] = ()
    in_context: bool = True
    timing: Timing = field(default_factory=Timing)
    digest: str | None = None
    request_key: str | None = None
    session: str | None = None
    conversation: str | None = None
    batch: str | None = None
    notebook: str | None = None
    cell: int | None = None
    started_at: str | None = None
    reused_from: int | None = None
    id: int | None = None
    recorded_at: str | None = None

    @property
    def reusable(self) -> bool:
        """True when this answer may stand in for an identical request: it finished, it has a
        key, and it asked for no tool (a replay cannot run tools)."""
        return self.status == "done" and self.request_key is not None and not self.tool_calls

    @property
    def when(self) -> str:
        """When it was recorded, short: ``'2026-12-03 13:41 UTC'``."""
        return (self.recorded_at or "")[:16].replace("T", " ") + " UTC" if self.recorded_at else "an earlier run"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``%ollama export NAME x.json`` writes per turn)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["timing"] = self.timing.as_dict()
        for name in ("messages", "tools", "tool_calls", "tool_results"):
            data[name] = [dict(m) for m in data[name]]
        data["options"] = dict(self.options)
        return data

    # -- rows ---------------------------------------------------------------------------------------
    def as_row(self) -> dict[str, Any]:
        """Column values for ``INSERT INTO turns``."""
        t = self.timing
        return {
            "recorded_at": self.recorded_at or now_utc(),
            "started_at": self.started_at,
            "session": self.session,
            "conversation": self.conversation,
            "batch": self.batch,
            "notebook": self.notebook,
            "cell": self.cell,
            "host": self.host,
            "endpoint": self.endpoint,
            "model": self.model,
            "digest": self.digest,
            "system": self.system,
            "prompt": self.prompt,
            "messages_json": _dumps(list(self.messages)),
            "options_json": _dumps(dict(self.options)),
            "format_json": _dumps(self.format),
            "tools_json": _dumps(list(self.tools)),
            "think": _dumps(self.think),
            "text": self.text,
            "thinking": self.thinking or None,
            "tool_calls_json": _dumps(list(self.tool_calls)),
            "tool_results_json": _dumps(list(self.tool_results)),
            "status": self.status,
            "error": self.error,
            "done_reason": self.done_reason,
            "in_context": int(self.in_context),
            "ttft_s": t.ttft_s,
            "wall_s": t.wall_s,
            "prompt_tokens": t.prompt_tokens,
            "output_tokens": t.output_tokens,
            "tokens_per_s": t.tokens_per_s,
            "timing_json": _dumps(t.as_dict()),
            "request_key": self.request_key,
            "reused_from": self.reused_from,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | sqlite3.Row) -> RecordedTurn:
        """The inverse of :meth:`as_row` (``row`` from ``SELECT * FROM turns``)."""
        return cls(
            id=row["id"],
            recorded_at=row["recorded_at"],
            started_at=row["started_at"],
            session=row["session"],
            conversation=row["conversation"],
            batch=row["batch"],
            notebook=row["notebook"],
            cell=row["cell"],
            host=row["host"],
            endpoint=row["endpoint"],
            model=row["model"],
            digest=row["digest"],
            system=row["system"],
            prompt=row["prompt"],
            messages=tuple(_loads(row["messages_json"]) or ()),
            options=_loads(row["options_json"]) or {},
            format=_loads(row["format_json"]),
            tools=tuple(_loads(row["tools_json"]) or ()),
            think=_loads(row["think"]),
            text=row["text"],
            thinking=row["thinking"] or "",
            tool_calls=tuple(_loads(row["tool_calls_json"]) or ()),
            tool_results=tuple(_loads(row["tool_results_json"]) or ()),
            status=row["status"],
            error=row["error"],
            done_reason=row["done_reason"],
            in_context=bool(row["in_context"]),
            timing=Timing.from_dict(_loads(row["timing_json"]) or {}),
            request_key=row["request_key"],
            reused_from=row["reused_from"],
        )

    def as_turn(self) -> Any:
        """This entry as a :class:`~ollama_nb.Turn` of a session (for ``Session.resume``)."""
        from .._turn import Turn

        return Turn(
            prompt=self.prompt, text=self.text, thinking=self.thinking, model=self.model, endpoint=self.endpoint,
            options=dict(self.options), stopped=self.status in ("stopped", "interrupted"), error=self.error,
            done_reason=self.done_reason, timing=self.timing, cell=self.cell, started_at=self.started_at or "",
            messages=tuple(dict(m) for m in self.messages), in_context=self.in_context,
        )

    def __repr__(self) -> str:
        preview = self.text[:40] + ("…" if len(self.text) > 40 else "")
        return f"<RecordedTurn #{self.id} {self.session or '-'} {self.model} {self.status}: {preview!r}>"


def _dumps(value: Any) -> str | None:
    if value is None or value == [] or value == {}:
        return None
    return finite_json(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def reply_status(reply: Any) -> TurnStatus:
    """``done``, ``stopped``, ``error`` or ``cut at length`` for a reply that has ended."""
    return status_of(error=reply.error is not None, stopped=reply.stopped, done_reason=reply.done_reason)


def entry_from_reply(
    reply: Any,
    *,
    sent: Mapping[str, Any],
    prompt: str,
    messages: Sequence[Mapping[str, Any]] = (),
    digest: str | None = None,
    request_key: str | None = None,
    in_context: bool = True,
    **where: Any,
) -> RecordedTurn:
    """A :class:`RecordedTurn` for a reply that has ended.

    ``sent`` is the request body as first sent; ``messages`` this turn's own messages (chat);
    ``where`` the context: ``session``, ``conversation``, ``batch``, ``notebook``, ``cell``,
    ``started_at``, ``reused_from``.

    Example (a batch item, outside any conversation)::

        entry = entry_from_reply(reply, sent=reply.body, prompt=item, digest=d,
                                 request_key=request_key("generate", reply.body, d), batch="b-42")
        record.add(entry)
    """
    calls = tuple(c.as_wire() for c in reply.tool_calls)
    results = tuple({**r.as_message(), **({"error": r.error} if r.error else {})} for r in reply.tool_results)
    return RecordedTurn(
        host=reply.host,
        endpoint=reply.endpoint,
        model=reply.model,
        prompt=prompt,
        text=reply.partial_text(),
        thinking=reply.thinking,
        status=reply_status(reply),
        error=str(reply.error) if reply.error is not None else None,
        done_reason=reply.done_reason,
        system=_system_of(sent),
        messages=tuple(dict(m) for m in messages),
        options=dict(sent.get("options") or {}),
        format=sent.get("format"),
        tools=tuple(sent.get("tools") or ()),
        think=sent.get("think"),
        tool_calls=calls,
        tool_results=results,
        in_context=in_context,
        timing=reply.timing,
        digest=digest,
        request_key=request_key,
        **where,
    )


def _system_of(sent: Mapping[str, Any]) -> str | None:
    if "system" in sent:
        return sent["system"]
    for message in sent.get("messages") or ():
        if message.get("role") == "system":
            return message.get("content")
    return None
