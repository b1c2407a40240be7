"""``%ollama <subcommand>``: models, history, timings, reset, save, load, pull, show, ps, config, help."""

from __future__ import annotations

import copy
import shlex
from typing import Any, Callable

from IPython.core.error import UsageError
from IPython.display import display

from .._session import Session, get_session, set_session
from ..view import markdown_table

HELP = """\
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
| `%ollama config` | the current defaults (`%config OllamaMagics.model = "llama3.2"` sets one) |

Options of the prompt magics: `%%ollama?` and `%ollama_chat?`.
"""


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size else ""


def _show(markdown: str) -> None:
    display({"text/markdown": markdown, "text/plain": markdown}, raw=True)


_QUIET_TYPES: dict[type, type] = {}


def quiet(value: Any) -> Any:
    """``value`` as an instance that shows nothing as ``Out[n]`` (the table was displayed already),
    so ``x = %ollama models`` still gives the data. Example: ``quiet([1]) == [1]``."""
    if value is None:
        return None
    cls = type(value)
    quiet_cls = _QUIET_TYPES.get(cls)
    if quiet_cls is None:
        quiet_cls = _QUIET_TYPES[cls] = type(cls.__name__, (cls,), {"_ipython_display_": lambda self: None, "__module__": cls.__module__})
    if isinstance(value, list):
        return quiet_cls(value)
    clone = copy.copy(value)
    object.__setattr__(clone, "__class__", quiet_cls)  # frozen dataclasses too
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
    handler: Callable[[Any, list[str]], Any] | None = SUBCOMMANDS.get(name)
    if handler is None:
        raise UsageError(f"unknown subcommand {name!r}; try %ollama help. (A prompt goes in a %%ollama cell.)")
    result = handler(magics, rest)
    return result if name == "timings" else quiet(result)


def _session_name(magics: Any, rest: list[str]) -> str:
    """The ``--session NAME`` given (removed from ``rest``), else the configured one."""
    if "--session" not in rest:
        return magics.session
    index = rest.index("--session")
    if index + 1 >= len(rest):
        raise UsageError("--session needs a NAME")
    name = rest[index + 1]
    del rest[index : index + 2]
    return name


def _session(magics: Any, rest: list[str]) -> Any:
    session = get_session(_session_name(magics, rest))
    session.use_host(magics.host or None) if magics.host and session.host != magics.host else None
    return session


def _need(rest: list[str], what: str, usage: str) -> str:
    if len(rest) != 1:
        raise UsageError(f"{what}: usage is {usage}")
    return rest[0]


def models(magics: Any, rest: list[str]) -> Any:
    session = _session(magics, rest)
    found = session.client.models()
    rows = [
        {"model": m.name, "size": _gib(m.size), "parameters": m.parameter_size, "quantization": m.quantization_level, "family": m.family}
        for m in found
    ]
    _show(markdown_table(rows) if rows else f"No models on {session.host} yet: `%ollama pull llama3.2`.")
    return found


def history(magics: Any, rest: list[str]) -> Any:
    session = _session(magics, rest)
    rows = [
        {"#": i, "role": m["role"], "content": (m.get("content") or "")[:200]}
        for i, m in enumerate(session.history, 1)
    ]
    _show(markdown_table(rows) if rows else "*(no conversation yet: `%ollama_chat Hello!`)*")
    return session.history


def timings(magics: Any, rest: list[str]) -> Any:
    session = _session(magics, rest)
    return session.timings()


def reset(magics: Any, rest: list[str]) -> None:
    name = _session_name(magics, rest)
    get_session(name).reset()
    _show(f"Started a fresh conversation (session `{name}`).")


def save(magics: Any, rest: list[str]) -> None:
    session = _session(magics, rest)
    path = _need(rest, "save", "%ollama save PATH")
    session.save(path)
    _show(f"Saved {len(session.turns)} turns to `{path}`.")


def load(magics: Any, rest: list[str]) -> None:
    name = _session_name(magics, rest)
    path = _need(rest, "load", "%ollama load PATH")
    session = Session.load(path)
    set_session(name, session)
    _show(f"Loaded {len(session.turns)} turns from `{path}` into session `{name}`.")


def config(magics: Any, rest: list[str]) -> None:
    rows = [{"setting": f"OllamaMagics.{k}", "value": repr(getattr(magics, k))} for k in sorted(magics.trait_names()) if magics.trait_metadata(k, "config")]
    _show(markdown_table(rows) + "\n\nChange one with `%config OllamaMagics.model = 'llama3.2'`.")


def show(magics: Any, rest: list[str]) -> Any:
    session = _session(magics, rest)
    name = _need(rest, "show", "%ollama show NAME")
    details = session.client.show(name)
    rows = [
        {"": "context length", "value": details.context_length},
        {"": "family", "value": details.family},
        {"": "parameters", "value": details.parameter_size},
        {"": "quantization", "value": details.quantization_level},
        {"": "capabilities", "value": ", ".join(details.capabilities)},
        {"": "settings", "value": details.parameters.replace("\n", "; ")},
    ]
    _show(f"**{name}**\n\n" + markdown_table(rows))
    return details


def ps(magics: Any, rest: list[str]) -> Any:
    session = _session(magics, rest)
    running = session.client.ps()
    rows = [
        {"model": m.name, "size": _gib(m.size), "in GPU memory": _gib(m.size_vram), "context": m.context_length, "unloads at": m.expires_at}
        for m in running
    ]
    _show(markdown_table(rows) if rows else "No model is loaded right now.")
    return running


def pull(magics: Any, rest: list[str]) -> Any:
    session = _session(magics, rest)
    name = _need(rest, "pull", "%ollama pull NAME")
    from ..view import show_pull

    return show_pull(session.client.pull(name), name)


def help_(magics: Any, rest: list[str]) -> None:
    _show(HELP)


SUBCOMMANDS: dict[str, Callable[[Any, list[str]], Any]] = {
    "config": config,
    "help": help_,
    "history": history,
    "load": load,
    "models": models,
    "ps": ps,
    "pull": pull,
    "reset": reset,
    "save": save,
    "show": show,
    "timings": timings,
}
