"""Long replies in the Markdown shapes a model writes at length, for ``[[shape=NAME]]``.

Each shape is built unit by unit (a sentence, a list item, a code line, a table row) until it
holds at least the tokens asked for; the reply is then cut to exactly that many, so it may end
mid-structure, as a stopped or length-limited reply does.

Example:
    >>> import random
    >>> tokens = shape_tokens("list", 12, random.Random(0))
    >>> "".join(tokens).startswith("*(simulated reply)*\\n\\n- ")
    True
"""

from __future__ import annotations

import random
from typing import Callable

__all__ = ["SHAPES", "shape_tokens"]

#: Token count of a shaped reply when ``[[tokens=N]]`` is not given.
DEFAULT_SHAPE_TOKENS = 400


_VOCABULARY = (
    "the light river stream answer quiet simple blue sky water cell kernel output window garden paper"
    " stone cloud morning evening signal pattern value line text small steady bright careful clear open"
    " short long warm cold useful plain notebook simulated deterministic tokenizer streaming computer"
    " example moves holds shows carries turns waits reads writes keeps follows makes finds and with from"
    " into over under while because so then each every some this"
).split()


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(_VOCABULARY, k=rng.randint(low, high)))


def _sentence(rng: random.Random) -> str:
    text = _words(rng, 5, 11)
    return text[:1].upper() + text[1:] + "."


def _paragraph(rng: random.Random, index: int) -> str:
    return " " + _sentence(rng) if index else _sentence(rng)


def _paragraphs(rng: random.Random, index: int) -> str:
    return ("\n\n" if index else "") + " ".join(_sentence(rng) for _ in range(rng.randint(1, 3)))


def _code(rng: random.Random, index: int) -> str:
    head = "```python\n" if index == 0 else ""
    name = _words(rng, 1, 2).replace(" ", "_")
    kind = index % 4
    if kind == 0:
        line = f"def {name}_{index}(value: int) -> str:"
    elif kind == 1:
        line = f'    """{_sentence(rng)}"""'
    elif kind == 2:
        line = f'    result = {{"{name}": value * {index % 97}, "ok": value < {index}}}'
    else:
        line = f"    return str(result)  # {_words(rng, 2, 5)}\n"
    return head + line + "\n"


def _list(rng: random.Random, index: int) -> str:
    return f"- {_sentence(rng)}\n"


def _nested_list(rng: random.Random, index: int) -> str:
    depth = (0, 1, 2, 2, 1)[index % 5]
    prefix = ("- ", "  1. ", "     - ")[depth]
    return f"{prefix}{_sentence(rng)}\n"


def _table(rng: random.Random, index: int) -> str:
    head = "| # | word | value | note |\n|---|------|------:|------|\n" if index == 0 else ""
    return head + f"| {index + 1} | {_words(rng, 1, 1)} | {rng.randint(0, 9999)} | {_words(rng, 3, 7)} |\n"


def _quote(rng: random.Random, index: int) -> str:
    return (">\n" if index and index % 6 == 0 else "") + f"> {_sentence(rng)}\n"


#: Shape name → one unit of the reply (its index in the reply given).
SHAPES: dict[str, Callable[[random.Random, int], str]] = {
    "paragraph": _paragraph,
    "paragraphs": _paragraphs,
    "code": _code,
    "list": _list,
    "nested-list": _nested_list,
    "table": _table,
    "quote": _quote,
}


def shape_tokens(shape: str, count: int | None, rng: random.Random) -> list[str]:
    """At least ``count`` tokens of a reply in ``shape``: the prefix, a blank line, the shape."""
    from ._replies import PREFIX, tokenize

    unit = SHAPES[shape]
    want = DEFAULT_SHAPE_TOKENS if count is None else count
    tokens = [PREFIX, "\n\n"]
    index = 0
    while len(tokens) < want:
        tokens.extend(tokenize(unit(rng, index)))
        index += 1
    return tokens
