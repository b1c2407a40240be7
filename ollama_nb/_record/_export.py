"""A recorded conversation written to a file: Markdown or JSON, chosen by the file's extension.

Example:
    >>> entries = [RecordedTurn(host="h", endpoint="chat", model="m", prompt="Hi", text="Hello!",
    ...                         session="demo", system="Be brief.", recorded_at="2026-12-03T10:00:00+00:00")]
    >>> print(conversation_markdown("demo", entries))
    # Conversation `demo`
    <BLANKLINE>
    model m · 1 turn · recorded 2026-12-03T10:00:00+00:00 → 2026-12-03T10:00:00+00:00
    <BLANKLINE>
    **System:** Be brief.
    <BLANKLINE>
    ## 1. User
    <BLANKLINE>
    Hi
    <BLANKLINE>
    ### Assistant (m)
    <BLANKLINE>
    Hello!
    <BLANKLINE>
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from .._files import write_private
from .._finite import finite_json
from ._entry import RecordedTurn

__all__ = ["conversation_json", "conversation_markdown", "export_conversation"]


def conversation_markdown(name: str, entries: Sequence[RecordedTurn]) -> str:
    """The conversation as a Markdown document (what the model wrote is kept as written)."""
    models = sorted({e.model for e in entries})
    first, last = entries[0], entries[-1]
    lines = [
        f"# Conversation `{name}`", "",
        f"model {', '.join(models)} · {len(entries)} turn{'s' if len(entries) != 1 else ''} · "
        f"recorded {first.recorded_at} → {last.recorded_at}", "",
    ]
    if first.system:
        lines += [f"**System:** {first.system}", ""]
    for number, e in enumerate(entries, 1):
        lines += [f"## {number}. User", "", e.prompt, ""]
        for call, result in zip(e.tool_calls, list(e.tool_results) + [None] * len(e.tool_calls)):
            function = call.get("function", {})
            lines += [f"- tool call `{function.get('name')}({json.dumps(function.get('arguments', {}))})`"
                      + (f" → {result.get('content')!r}" if result else "")]
        if e.tool_calls:
            lines.append("")
        outcome = "" if e.status == "done" else f", {e.status}"
        lines += [f"### Assistant ({e.model}{outcome})", "", e.text, ""]
        if e.error:
            lines += [f"> error: {e.error}", ""]
    return "\n".join(lines)


def conversation_json(name: str, entries: Sequence[RecordedTurn]) -> str:
    """The conversation as JSON: the session's name, system, model and every turn."""
    last = entries[-1]
    data = {
        "ollama_nb_conversation": 1,
        "session": name,
        "conversation": last.conversation,
        "model": last.model,
        "system": last.system,
        "turns": [e.as_dict() for e in entries],
    }
    return finite_json(data, ensure_ascii=False, indent=1)


def export_conversation(
    name: str, entries: Sequence[RecordedTurn], path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``entries`` to ``path``: JSON for ``.json``, else Markdown. Returns the path.

    The file is created 0600; an existing one is an error unless ``overwrite``; a symlink is never
    written through."""
    target = Path(path).expanduser()
    text = (
        conversation_json(name, entries) if target.suffix.lower() == ".json" else conversation_markdown(name, entries)
    )
    write_private(target, text, overwrite=overwrite, what="the conversation")
    return target
