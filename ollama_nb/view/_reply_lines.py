"""The one-line texts about a reply: the live status line, the footer, tool notes, output metadata.

Shared by the stream view, the plain view and the side-by-side view. Model and server text in
them (model names, tool arguments and results, the remote model) is escaped through
:class:`~ollama_nb._safe.SafeMarkdown`.

Example:
    >>> short_text("a  b\\nc")
    'a b c'
"""

from __future__ import annotations

from typing import Any

from .._safe import SafeMarkdown
from ..client import BaseReply

__all__ = [
    "call_text",
    "footer_markdown",
    "footer_text",
    "reply_metadata",
    "short_text",
    "status_line",
    "tool_call_note",
    "tool_result_note",
]


def call_text(call: Any) -> str:
    """``name(a=1, b='x')`` for a tool call."""
    return f"{call.name}({', '.join(f'{k}={v!r}' for k, v in call.arguments.items())})"


def short_text(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_line(model: str, reply: BaseReply | None, *, rate: bool = True) -> str:
    """Model, seconds and tokens so far (and tokens/s unless ``rate=False``), joined by " · "."""
    if reply is None:
        return model
    elapsed = reply.elapsed_s
    parts = [model, f"{elapsed:.1f} s"]
    if reply.output_chunks:
        parts.append(f"{reply.output_chunks} tokens")
        t = reply.timing
        if rate and t.tokens_per_s:
            parts.append(f"{t.tokens_per_s:.1f} tok/s")
    elif elapsed > 1.5:
        parts.append("waiting for the first token (the model may be loading)")
    return " · ".join(parts)


def _outcome(reply: BaseReply) -> str:
    if reply.stopped:
        return "stopped"
    if reply.error is not None:
        return "error"
    return "cut at length" if reply.done_reason == "length" else ""


def _remote(reply: BaseReply) -> str:
    """``via MODEL at HOST`` when a cloud model answered through a local Ollama (server text), else ""."""
    if not reply.remote_model:
        return ""
    return f"via {reply.remote_model}" + (f" at {reply.remote_host}" if reply.remote_host else "")


def _reused_when(reply: BaseReply) -> str:
    """When a replayed answer was recorded (from the record); empty for a fresh answer."""
    reused = getattr(reply, "reused_from", None)
    return reused.when if reused is not None else ""


def _timing(reply: BaseReply) -> str:
    """The timing summary; a replayed answer shows the one it had when it was recorded."""
    reused = getattr(reply, "reused_from", None)
    return (reused.timing if reused is not None else reply.timing).summary()


def footer_text(reply: BaseReply) -> str:
    """One line of plain text: model · ttft · tokens · tok/s · wall, plus the outcome when it is not plain done."""
    reused = f"reused from {_reused_when(reply)}" if _reused_when(reply) else ""
    return " · ".join(p for p in (reply.model, reused, _remote(reply), _timing(reply), _outcome(reply)) if p)


def footer_markdown(reply: BaseReply) -> SafeMarkdown:
    """The footer line as Markdown: italic, the outcome (or **reused**) in bold; the model names are escaped."""
    md = SafeMarkdown.trusted
    parts = [SafeMarkdown.text(reply.model)] if reply.model else []
    if _reused_when(reply):
        parts.append(md("**reused** from {}").format(SafeMarkdown.text(_reused_when(reply))))
    parts += [SafeMarkdown.text(p) for p in (_remote(reply), _timing(reply)) if p]
    if _outcome(reply):
        parts.append(md("**{}**").format(SafeMarkdown.text(_outcome(reply))))
    return md("*{}*").format(md(" · ").join(parts))


def tool_call_note(call: Any) -> SafeMarkdown:
    """``🔧 name(args)`` for a tool call the model made (name and arguments are model text)."""
    return SafeMarkdown.trusted("🔧 {}").format(SafeMarkdown.code(call_text(call)))


def tool_result_note(result: Any) -> SafeMarkdown:
    """``→ name: result`` (``⚠`` on error) for what a tool function returned (tool text)."""
    mark = SafeMarkdown.trusted("⚠" if result.error else "→")
    shown = SafeMarkdown.text(short_text(result.error or result.content))
    return SafeMarkdown.trusted("{} {}: {}").format(mark, SafeMarkdown.code(result.call.name), shown)


def reply_metadata(reply: BaseReply) -> dict[str, Any]:
    """What goes into the output's metadata under ``ollama_nb``."""
    return {
        "model": reply.model,
        "endpoint": reply.endpoint,
        "done_reason": reply.done_reason,
        "stopped": reply.stopped,
        "error": str(reply.error) if reply.error else None,
        "timing": reply.timing.as_dict(),
        "notes": list(reply.notes),
        **({"remote_model": reply.remote_model, "remote_host": reply.remote_host} if reply.remote_model else {}),
    } | _reused_metadata(reply)


def _reused_metadata(reply: BaseReply) -> dict[str, Any]:
    """Which recorded turn a replayed answer came from (the record)."""
    reused = getattr(reply, "reused_from", None)
    return {} if reused is None else {"reused_from": {"turn": reused.id, "recorded_at": reused.recorded_at}}
