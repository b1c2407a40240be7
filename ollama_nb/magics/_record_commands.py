"""``%ollama log``, ``%ollama resume NAME`` and ``%ollama export NAME PATH``: reading the record.

Each shows what it did in the cell and returns the data, like the other subcommands
(``turns = %ollama log --search sky``).
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from .._record._export import export_conversation
from .._record._recorder import resume_entries
from .._session import Session, get_session, set_session
from ..view import markdown_table

_LOG = argparse.ArgumentParser(prog="%ollama log", add_help=False, exit_on_error=False)
_LOG.add_argument("-n", type=int, default=20)
_LOG.add_argument("--session", default=None)
_LOG.add_argument("--search", nargs="+", default=None)


def _short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reader(magics: Any) -> Session:
    session = get_session(magics.session)
    session.use_record(magics.db or None)
    return session


def log_rows(entries: list[Any]) -> list[dict[str, Any]]:
    """The table ``%ollama log`` shows: one row per turn, newest first."""
    return [
        {
            "#": e.id,
            "when (UTC)": (e.recorded_at or "")[:19].replace("T", " "),
            "session": e.session or "",
            "model": e.model,
            "status": e.status + (" (reused)" if e.reused_from else ""),
            "prompt": _short(e.prompt, 60),
            "reply": _short(e.text, 80),
            "first token (s)": e.timing.ttft_s,
            "tok/s": e.timing.tokens_per_s,
        }
        for e in entries
    ]


def log(magics: Any, rest: list[str], show: Any) -> Any:
    """``%ollama log [-n N] [--session NAME] [--search TEXT]``."""
    try:
        args, unknown = _LOG.parse_known_args(rest)
    except (argparse.ArgumentError, SystemExit) as exc:
        raise UsageError(f"log: {exc}; usage is %ollama log [-n N] [--session NAME] [--search TEXT]") from None
    if unknown:
        raise UsageError(f"log: unknown {' '.join(unknown)!r}; usage is %ollama log [-n N] [--session NAME] [--search TEXT]")
    search = " ".join(args.search) if args.search else None
    session = _reader(magics)
    entries = session.log(args.n, session=args.session, search=search)
    if entries:
        show(markdown_table(log_rows(entries)) + f"\n\n*{len(entries)} turn{'s' if len(entries) != 1 else ''}, newest first*")
    else:
        show("*(no turns recorded" + (" match that search" if search else "") + " yet)*")
    return entries


def resume(magics: Any, rest: list[str], show: Any) -> Session:
    """``%ollama resume NAME``: the conversation rebuilt, and the next ``--session NAME`` continues it."""
    if len(rest) != 1:
        raise UsageError("resume: usage is %ollama resume NAME")
    name = rest[0]
    session = Session.resume(name, record=magics.db or None, host=magics.host or None)
    set_session(name, session)
    show(
        f"Resumed session `{name}`: {len(session.turns)} turn{'s' if len(session.turns) != 1 else ''}, "
        f"{len(session.history)} messages, model `{session.model}`. "
        f"Continue with `%ollama_chat --session {name} …`."
    )
    return session


def export(magics: Any, rest: list[str], show: Any) -> str:
    """``%ollama export NAME PATH``: Markdown, or JSON for a ``.json`` path."""
    if len(rest) != 2:
        raise UsageError("export: usage is %ollama export NAME PATH (PATH ending in .md or .json)")
    name, path = rest
    entries = resume_entries(_reader(magics)._need_record(), name)
    written = export_conversation(name, entries, path)
    show(f"Wrote {len(entries)} turn{'s' if len(entries) != 1 else ''} of `{name}` to `{written}`.")
    return str(written)
