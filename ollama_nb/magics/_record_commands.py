"""``%ollama log``, ``%ollama resume NAME`` and ``%ollama export NAME PATH``: reading the record.

Each shows what it did in the cell and returns the data, like the other subcommands
(``turns = %ollama log --search sky``).
"""

from __future__ import annotations

import argparse
from typing import Any

from .._record._export import export_conversation
from .._record._recorder import resume_entries
from .._safe import SafeMarkdown
from .._session import Session, set_session
from ..view import markdown_table
from ._arguments import SubcommandParser

md, text, code = SafeMarkdown.trusted, SafeMarkdown.text, SafeMarkdown.code

#: ``%ollama log``'s arguments (``--session`` filters the record; it does not pick a session).
LOG_PARSER = SubcommandParser("log", "%ollama log [-n N] [--session NAME] [--search TEXT]")
LOG_PARSER.add_argument("-n", type=int, default=20)
LOG_PARSER.add_argument("--search", nargs="+", default=None)


def _short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reader(magics: Any) -> Session:
    return magics.session_for()


def _turns(n: int) -> str:
    return f"{n} turn{'s' if n != 1 else ''}"


def log_rows(entries: list[Any]) -> list[dict[str, Any]]:
    """The table ``%ollama log`` shows: one row per turn, newest first (model and server text
    shown exactly as written)."""
    return [
        {
            "#": e.id,
            "when (UTC)": text((e.recorded_at or "")[:19].replace("T", " ")),
            "session": text(e.session or ""),
            "model": code(e.model),
            "host": text(e.host),
            "status": text(e.status + (" (reused)" if e.reused_from else "")),
            "prompt": text(_short(e.prompt, 60)),
            "reply": text(_short(e.text, 80)),
            "first token (s)": e.timing.ttft_s,
            "tok/s": e.timing.tokens_per_s,
        }
        for e in entries
    ]


def log(magics: Any, args: argparse.Namespace, show: Any) -> Any:
    """``%ollama log [-n N] [--session NAME] [--search TEXT]``."""
    search = " ".join(args.search) if args.search else None
    session = _reader(magics)
    entries = session.log(args.n, session=args.session, search=search)
    if entries:
        show(
            markdown_table(log_rows(entries))
            + md("\n\n*{turns}, newest first*").format(turns=text(_turns(len(entries))))
        )
    else:
        show(md("*(no turns recorded match that search)*" if search else "*(no turns recorded yet)*"))
    return entries


def resume(magics: Any, args: argparse.Namespace, show: Any) -> Session:
    """``%ollama resume NAME``: the conversation rebuilt, and the next ``--session NAME`` continues it."""
    name = args.name
    session = Session.resume(name, record=magics.db or None, host=magics.host or None)
    set_session(name, session)
    show(
        md("Resumed session {name}: {turns}, {messages} messages, model {model}. Continue with {next}.").format(
            name=code(name),
            turns=text(_turns(len(session.turns))),
            messages=len(session.history),
            model=code(session.model or ""),
            next=code(f"%ollama_chat --session {name} …"),
        )
    )
    return session


def export(magics: Any, args: argparse.Namespace, show: Any) -> str:
    """``%ollama export NAME PATH [--force]``: Markdown, or JSON for a ``.json`` path."""
    name, path = args.name, args.path
    entries = resume_entries(_reader(magics).need_record(), name)
    written = export_conversation(name, entries, path, overwrite=args.force)
    show(
        md("Wrote {turns} of {name} to {path}.").format(
            turns=text(_turns(len(entries))), name=code(name), path=code(str(written))
        )
    )
    return str(written)
