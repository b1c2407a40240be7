"""``%ollama <subcommand>``: models, history, timings, reset, save, load, log, resume, export, pull,
show, ps, config, help."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import shlex
from typing import Any, Callable

from IPython.core.error import UsageError

from .._safe import SafeMarkdown
from .._session import Session, set_session
from ..view import markdown_table
from ..view._outputs import show_markdown
from ._arguments import SubcommandParser
from ._embed_magic import EMBED_PARSER
from ._record_commands import LOG_PARSER

md, text, code = SafeMarkdown.trusted, SafeMarkdown.text, SafeMarkdown.code

HELP = md("""\
**ollama_nb** — `%%ollama` (one prompt, streamed) · `%ollama_chat` / `%%ollama_chat` (a turn of the conversation)

| command | what it does |
|---|---|
| `%ollama models` | the models on the server |
| `%ollama pull NAME` | download a model, with a progress bar |
| `%ollama show NAME` | context length, parameters, capabilities |
| `%ollama ps` | models loaded in memory |
| `%ollama history` | the conversation so far |
| `%ollama timings` | one row per turn: time to first token, tokens/s, … |
| `%ollama reset` | start a fresh conversation |
| `%ollama save PATH` / `%ollama load PATH` | keep a conversation in a JSON file |
| `%ollama log [-n N] [--session NAME] [--search TEXT]` | recent turns from the record (every turn is kept in SQLite) |
| `%ollama resume NAME` | rebuild a recorded conversation, e.g. after a kernel restart |
| `%ollama export NAME PATH` | write a recorded conversation as Markdown or JSON (`.json`) |
| `%ollama embed NAME -m MODEL -o VAR` | embed a list, Series or DataFrame into a numpy matrix |
| `%ollama config` | the current defaults (`%config OllamaMagics.model = "llama3.2"` sets one) |

Options of the prompt magics: `%%ollama?` and `%ollama_chat?`.
""")
#: How much of one message ``%ollama history`` shows.
HISTORY_CHARS = 2000


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size else ""


def _show(markdown: SafeMarkdown, plain: str | None = None) -> None:
    """Display a subcommand's answer; only SafeMarkdown is accepted (a raw str is a TypeError)."""
    show_markdown(markdown, plain)


class QuietList(list[Any]):
    """A subcommand's rows, shown as nothing (the table was displayed already)."""

    def _ipython_display_(self) -> None:
        """Nothing: ``Out[n]`` stays empty."""


class QuietStr(str):
    """A subcommand's text answer (a path), shown as nothing."""

    __slots__ = ()

    def _ipython_display_(self) -> None:
        """Nothing: ``Out[n]`` stays empty."""


def _show_nothing() -> None:
    """The display hook of a quiet object: it was displayed already."""


def quiet(value: Any) -> Any:
    """``value`` as something that shows nothing as ``Out[n]`` (its table was displayed already),
    so ``x = %ollama models`` still gives the data: a :class:`QuietList` or :class:`QuietStr`
    equal to it, a copy of a dataclass record whose own ``_ipython_display_`` shows nothing, else
    ``value`` itself (a :class:`~ollama_nb.Session` is never copied).

    Example:
        >>> quiet([1]) == [1], type(quiet("a")).__name__
        (True, 'QuietStr')
    """
    if value is None:
        return None
    if isinstance(value, list):
        return QuietList(value)
    if isinstance(value, str):
        return QuietStr(value)
    if not (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        return value
    clone = copy.copy(value)
    object.__setattr__(clone, "_ipython_display_", _show_nothing)  # frozen dataclasses too
    return clone


def run_subcommand(magics: Any, line: str) -> Any:
    """Dispatch ``%ollama <subcommand> [args]``."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot read {line!r}: {exc}") from None
    if not words:
        _show(HELP)
        return None
    name, rest = words[0], words[1:]
    found = SUBCOMMANDS.get(name)
    if found is None:
        raise UsageError(f"unknown subcommand {name!r}; try %ollama help. (A prompt goes in a %%ollama cell.)")
    parser, handler = found
    result = handler(magics, parser.read(rest))
    return result if name == "timings" else quiet(result)


def _session(magics: Any, args: argparse.Namespace) -> Session:
    """The session ``--session NAME`` names, else the configured one (one lookup for every magic)."""
    return magics.session_for(args.session)


def models(magics: Any, args: argparse.Namespace) -> Any:
    session = _session(magics, args)
    found = session.client.models()
    rows = [{"model": text(m.name), "size": text(_gib(m.size)), "parameters": text(m.parameter_size),
             "quantization": text(m.quantization_level), "family": text(m.family)} for m in found]
    _show(
        markdown_table(rows)
        if rows
        else md("No models on {host} yet: `%ollama pull llama3.2`.").format(host=code(session.host))
    )
    return found


def history(magics: Any, args: argparse.Namespace) -> Any:
    session = _session(magics, args)
    messages = session.history
    if not messages:
        _show(md("*(no conversation yet: `%ollama_chat Hello!`)*"))
    else:
        _show(history_markdown(messages), history_plain(messages))
    return messages


def _clip(content: Any) -> str:
    content = "" if content is None else str(content)
    return content if len(content) <= HISTORY_CHARS else content[: HISTORY_CHARS - 1] + "…"


def _call_parts(message: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, arguments)`` of each tool call an assistant message made, from the wire form."""
    from .._tools import ToolCall

    parts = []
    for wire in message.get("tool_calls") or ():
        call = ToolCall.from_wire(wire) if isinstance(wire, dict) else None
        if call is not None:
            parts.append((call.name, ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())))
    return parts


def history_markdown(messages: list[dict[str, Any]]) -> SafeMarkdown:
    """The conversation as a sequence of blocks (not a table, so code keeps its line breaks).

    Each message: a heading line (number, role), then its content: user, system and assistant text
    as escaped Markdown, a tool call as its name and arguments, a tool result as preformatted text.
    """
    blocks: list[SafeMarkdown] = []
    for number, message in enumerate(messages, 1):
        role = str(message.get("role") or "?")
        head = md("**{n} · {role}**").format(n=number, role=text(role))
        if role == "tool":
            name = message.get("tool_name") or message.get("name")
            head = md("{head} from {name}").format(head=head, name=code(name)) if name else head
            blocks += [head, SafeMarkdown.pre(_clip(message.get("content")))]
        else:
            blocks.append(head)
            if message.get("content"):
                blocks.append(SafeMarkdown.escape(_clip(message["content"])))
            for name, arguments in _call_parts(message):
                blocks.append(md("🔧 calls {call}").format(call=code(f"{name}({arguments})")))
        blocks.append(md("---"))
    return md("\n\n").join(blocks[:-1])


def history_plain(messages: list[dict[str, Any]]) -> str:
    """The same as plain text."""
    lines = []
    for number, message in enumerate(messages, 1):
        lines.append(f"[{number}] {message.get('role')}: {_clip(message.get('content'))}")
        lines += [f"    calls {name}({arguments})" for name, arguments in _call_parts(message)]
    return "\n".join(lines)


def timings(magics: Any, args: argparse.Namespace) -> Any:
    session = _session(magics, args)
    return session.timings()


def reset(magics: Any, args: argparse.Namespace) -> None:
    session = _session(magics, args)
    session.reset()
    name = session.name or magics.session
    _show(md("Started a fresh conversation (session {name}).").format(name=code(name)))


def save(magics: Any, args: argparse.Namespace) -> None:
    session = _session(magics, args)
    path = args.path
    session.save(path, overwrite=args.force)
    _show(md("Saved {n} turns to {path}.").format(n=len(session.turns), path=code(path)))


def load(magics: Any, args: argparse.Namespace) -> None:
    name, path = args.session or magics.session, args.path
    session = Session.load(path, host=magics.host or None)
    session.name = name  # its turns are recorded under this name
    set_session(name, session)
    _show(
        md("Loaded {n} turns from {path} into session {name}.").format(
            n=len(session.turns), path=code(path), name=code(name)
        )
    )


def config(magics: Any, args: argparse.Namespace) -> None:
    rows = [
        {"setting": code(f"OllamaMagics.{k}"), "value": code(repr(getattr(magics, k)))}
        for k in sorted(magics.trait_names())
        if magics.trait_metadata(k, "config")
    ]
    _show(markdown_table(rows) + md("\n\nChange one with `%config OllamaMagics.model = 'llama3.2'`."))


def show(magics: Any, args: argparse.Namespace) -> Any:
    session = _session(magics, args)
    name = args.name
    details = session.client.show(name)
    rows = [
        {"": md("context length"), "value": details.context_length},
        {"": md("family"), "value": text(details.family)},
        {"": md("parameters"), "value": text(details.parameter_size)},
        {"": md("quantization"), "value": text(details.quantization_level)},
        {"": md("capabilities"), "value": text(", ".join(details.capabilities))},
        {"": md("settings"), "value": text(details.parameters)},  # one line: its breaks become <br>
    ]
    _show(md("**{name}**\n\n").format(name=text(name)) + markdown_table(rows))
    return details


def ps(magics: Any, args: argparse.Namespace) -> Any:
    session = _session(magics, args)
    running = session.client.ps()
    rows = [{"model": text(m.name), "size": text(_gib(m.size)), "in GPU memory": text(_gib(m.size_vram)),
             "context": m.context_length, "unloads at": text(m.expires_at)} for m in running]
    _show(markdown_table(rows) if rows else md("No model is loaded right now."))
    return running


def pull(magics: Any, args: argparse.Namespace) -> Any:
    session = _session(magics, args)
    name = args.name
    from ..view import show_pull

    return show_pull(session.client.pull(name), name)


def _embed(magics: Any, args: argparse.Namespace) -> None:
    from ._embed_magic import embed_command

    embed_command(magics, args)


def help_(magics: Any, args: argparse.Namespace) -> None:
    _show(HELP)


def _record_command(name: str) -> Handler:
    """The record's subcommands, from their own module."""

    def run(magics: Any, args: argparse.Namespace) -> Any:
        from . import _record_commands

        return getattr(_record_commands, name)(magics, args, _show)

    return run


#: A subcommand: given the magics and its parsed arguments, shows its answer and returns the data.
Handler = Callable[[Any, argparse.Namespace], Any]

#: Every subcommand: its parser (the usage line says what it takes) and its handler.
SUBCOMMANDS: dict[str, tuple[SubcommandParser, Handler]] = {
    "config": (SubcommandParser("config", "%ollama config", session=False), config),
    "embed": (EMBED_PARSER, _embed),
    "export": (SubcommandParser("export", "%ollama export NAME PATH [--force] (PATH ending in .md or .json)", "name",
                                "path", session=False, force=True), _record_command("export")),
    "help": (SubcommandParser("help", "%ollama help", session=False), help_),
    "history": (SubcommandParser("history", "%ollama history [--session NAME]"), history),
    "load": (SubcommandParser("load", "%ollama load PATH [--session NAME]", "path"), load),
    "log": (LOG_PARSER, _record_command("log")),
    "models": (SubcommandParser("models", "%ollama models [--session NAME]"), models),
    "ps": (SubcommandParser("ps", "%ollama ps [--session NAME]"), ps),
    "pull": (SubcommandParser("pull", "%ollama pull NAME [--session NAME]", "name"), pull),
    "reset": (SubcommandParser("reset", "%ollama reset [--session NAME]"), reset),
    "resume": (SubcommandParser("resume", "%ollama resume NAME", "name", session=False), _record_command("resume")),
    "save": (SubcommandParser("save", "%ollama save PATH [--force] [--session NAME]", "path", force=True), save),
    "show": (SubcommandParser("show", "%ollama show NAME [--session NAME]", "name"), show),
    "timings": (SubcommandParser("timings", "%ollama timings [--session NAME]"), timings),
}
