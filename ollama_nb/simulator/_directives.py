"""Prompt directives: ``[[name]]`` or ``[[name=value]]`` markers that steer the simulator.

They are read from the prompt (or the last user message) and removed from the text the
reply quotes or echoes. Unknown ``[[...]]`` text is left alone; a known directive with
a bad value is an error (HTTP 400) so a typo in a test never passes silently.

=====================  ============================================================
``[[tokens=N]]``       exactly N content chunks
``[[delay=S]]``        S seconds between chunks (overrides tokens_per_second)
``[[error-after=K]]``  in-band ``{"error": ...}`` line after K chunks (K=0: HTTP 500)
``[[drop-after=K]]``   close the connection after K chunks, no chunked terminator
``[[malformed]]``      a non-JSON line after the 2nd chunk
``[[status=CODE]]``    answer HTTP CODE with an error body instead of streaming
``[[utf8]]``           multi-byte text; each line sent in two writes split inside a character
``[[html]]``           reply holds ``<img src=x onerror=...>`` and ``<script>``
``[[echo]]``           reply = the prompt text
``[[markdown]]``       heading, bullet list, fenced python code, table
``[[shape=NAME]]``     a long reply in one Markdown shape: paragraph, paragraphs, code,
                       list, nested-list, table, quote (length: ``[[tokens=N]]``)
``[[length]]``         done_reason "length"
``[[tool=NAME]]``      call tool NAME (repeatable: several calls)
``[[args={json}]]``    arguments for the tool call
``[[invalid-json]]``   content that is not valid JSON (for ``format`` tests)
=====================  ============================================================

Example:
    >>> text, found = parse_directives("Hi [[tokens=3]] there [[echo]]")
    >>> text, found.tokens, found.echo
    ('Hi  there', 3, True)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["DirectiveError", "Directives", "parse_directives"]


class DirectiveError(ValueError):
    """A known directive with a value the simulator cannot use."""


@dataclass(frozen=True)
class Directives:
    """What the prompt asked the simulator to do (defaults: nothing special)."""

    tokens: int | None = None
    delay: float | None = None
    error_after: int | None = None
    drop_after: int | None = None
    malformed: bool = False
    status: int | None = None
    utf8: bool = False
    html: bool = False
    echo: bool = False
    markdown: bool = False
    length: bool = False
    invalid_json: bool = False
    tools: tuple[str, ...] = ()
    args: dict[str, Any] | None = field(default=None, hash=False)
    shape: str | None = None


_FLAGS = {
    "malformed": "malformed", "utf8": "utf8", "html": "html", "echo": "echo",
    "markdown": "markdown", "length": "length", "invalid-json": "invalid_json",
}
_COUNTS = {"tokens": "tokens", "error-after": "error_after", "drop-after": "drop_after"}
_OPENING = re.compile(r"\[\[([a-z][a-z0-9-]*)(=?)")


def _count(name: str, raw: str) -> int:
    if not raw.isdigit() or int(raw) > 10_000_000:
        raise DirectiveError(f"[[{name}={raw}]] needs a whole number from 0 to 10000000")
    return int(raw)


def _value(name: str, raw: str) -> dict[str, Any]:
    if name in _COUNTS:
        return {_COUNTS[name]: _count(name, raw)}
    if name == "delay":
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= 60:
            raise DirectiveError(f"[[delay={raw}]] needs seconds from 0 to 60, e.g. [[delay=0.05]]")
        return {"delay": seconds}
    if name == "status":
        if not raw.isdigit() or not 400 <= int(raw) <= 599:
            raise DirectiveError(f"[[status={raw}]] needs an HTTP error code from 400 to 599")
        return {"status": int(raw)}
    if name == "shape":
        from ._shapes import SHAPES

        if raw not in SHAPES:
            raise DirectiveError(f"[[shape={raw}]] needs one of: {', '.join(SHAPES)}")
        return {"shape": raw}
    if not raw.strip():
        raise DirectiveError("[[tool=NAME]] needs a tool name")
    return {}


def parse_directives(text: str) -> tuple[str, Directives]:
    """Split ``text`` into the text without directives and the directives found.

    Example:
        >>> parse_directives('call [[tool=add]][[args={"a": [1, 2]}]]')[1].args
        {'a': [1, 2]}
    """
    found: dict[str, Any] = {}
    tools: list[str] = []
    kept: list[str] = []
    pos = 0
    for match in _OPENING.finditer(text):
        if match.start() < pos:
            continue
        name, has_value = match.group(1), bool(match.group(2))
        if name not in _FLAGS and name not in _COUNTS and name not in ("delay", "status", "tool", "args", "shape"):
            continue
        start = match.end()
        if name == "args" and has_value:
            try:
                args, end = json.JSONDecoder().raw_decode(text, start)
            except json.JSONDecodeError as exc:
                raise DirectiveError(f"[[args=...]] holds invalid JSON: {exc.msg}") from None
            if not isinstance(args, dict) or not text.startswith("]]", end):
                raise DirectiveError('[[args=...]] needs one JSON object, e.g. [[args={"city": "Paris"}]]')
            found["args"], close = args, end
        else:
            close = text.find("]]", start)
            if close < 0:
                continue
            raw = text[start:close]
            if name in _FLAGS:
                if has_value:
                    raise DirectiveError(f"[[{name}]] takes no value")
                found[_FLAGS[name]] = True
            elif not has_value:
                raise DirectiveError(f"[[{name}=...]] needs a value")
            elif name == "tool":
                _value(name, raw)
                tools.append(raw.strip())
            else:
                found.update(_value(name, raw))
        kept.append(text[pos:match.start()])
        pos = close + 2
    kept.append(text[pos:])
    directives = replace(Directives(**found), tools=tuple(tools))
    return "".join(kept).strip(), directives
