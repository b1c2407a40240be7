"""Parsing a magic's line: options first, then (for line magics) the message, kept verbatim.

IPython's ``magic_arguments`` builds the parser (so ``%%ollama?`` prints real help); the message
after the options is taken from the raw line as typed, so quotes and apostrophes in it are never
eaten by shell-style splitting.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from typing import Any, Callable, NoReturn, Sequence

from IPython.core.error import UsageError

_VALUE = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")


def split_line(parser: argparse.ArgumentParser, line: str) -> tuple[list[str], str]:
    """Split ``line`` into option tokens and the message that follows them.

    Example:
        >>> split_line(parser, "-m llama3.2 --temperature 0.2 What's 2+2?")   # doctest: +SKIP
        (['-m', 'llama3.2', '--temperature', '0.2'], "What's 2+2?")
    """
    rest = line.strip()
    tokens: list[str] = []
    while rest.startswith("-"):
        token = rest.split(None, 1)[0]
        if token == "--":
            rest = rest[2:].strip()
            break
        name = token.split("=", 1)[0]
        action = parser._option_string_actions.get(name)
        if action is None:
            if token.startswith("--"):
                raise UsageError(f"unknown option {name}; see the help with %{parser.prog}?")
            break  # "-5 °C outside?" is a message, not an option
        tokens.append(token)
        rest = rest[len(token):]
        if "=" not in token and action.nargs != 0 and not (action.nargs == "?" and not _looks_like_value(action, rest)):
            match = _VALUE.match(rest)
            if match is None:
                raise UsageError(f"option {name} needs a value; see %{parser.prog}?")
            raw = match.group(1)
            tokens.append(shlex.split(raw)[0] if raw[0] in "'\"" else raw)
            rest = rest[match.end():]
        rest = rest.strip()
    return tokens, rest


#: Words taken as the value of an option with an optional value (``--think high``); any other word
#: starts the message. A level the model defines is given as ``--think=NAME``.
THINK_WORDS = frozenset({"low", "medium", "high", "max", "true", "false"})


def _looks_like_value(action: argparse.Action, rest: str) -> bool:
    """Whether the next word of a line magic is the value of ``action`` (an optional value)."""
    word = rest.strip().split(None, 1)[0] if rest.strip() else ""
    if action.type is int:
        return word.isdigit()
    return word.lower() in THINK_WORDS


def parse(
    parser: argparse.ArgumentParser, line: str, *, message: bool, expand: Callable[[str], str] | None = None
) -> tuple[argparse.Namespace, str]:
    """Parse options (UsageError on bad ones); return ``(args, message_text)``.

    ``expand`` (IPython's ``$name``/``{name}`` expansion) applies to the options only: the message
    is interpolated later by the magic's own safe rules.
    """
    if message:
        tokens, rest = split_line(parser, line)
        if expand is not None:
            tokens = [expand(t) for t in tokens]
    else:
        try:
            tokens, rest = shlex.split(expand(line) if expand is not None else line), ""
        except ValueError as exc:
            raise UsageError(f"cannot read the options {line!r}: {exc}") from None
    return parser.parse_args(tokens), rest


def option_value(text: str) -> Any:
    """``--option KEY=VALUE`` values: JSON when they parse (numbers, true, lists), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def options_from(args: argparse.Namespace) -> dict[str, Any]:
    """Ollama ``options`` from the parsed arguments."""
    options: dict[str, Any] = {}
    for pair in args.option or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option takes KEY=VALUE, not {pair!r} (e.g. --option top_k=20)")
        options[key.strip()] = option_value(value.strip())
    for name in ("temperature", "seed", "num_ctx", "num_predict"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    return options


class SubcommandParser(argparse.ArgumentParser):
    """The parser of one ``%ollama <subcommand>``: every subcommand is read the same way, and a bad
    argument is one :class:`UsageError` line with the usage (never argparse's exit).

    Example:
        >>> SubcommandParser("save", "%ollama save PATH [--session NAME]", "path").read(["a.json"]).path
        'a.json'
    """

    def __init__(self, name: str, usage: str, *positionals: str, session: bool = True, force: bool = False) -> None:
        super().__init__(prog=f"%ollama {name}", usage=usage, add_help=False, exit_on_error=False)
        self.name = name
        for positional in positionals:
            self.add_argument(positional)
        if session:
            self.add_argument("--session", default=None, metavar="NAME")
        if force:  # replace an existing file
            self.add_argument("--force", action="store_true")

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.name}: {message}; usage is {self.usage}")

    def read(self, words: Sequence[str]) -> argparse.Namespace:
        """The arguments in ``words`` (UsageError for a missing, bad or unknown one)."""
        try:
            args, unknown = self.parse_known_args(list(words))
        except argparse.ArgumentError as exc:
            self.error(str(exc))
        if unknown:
            self.error(f"unknown {' '.join(unknown)!r}")
        return args

