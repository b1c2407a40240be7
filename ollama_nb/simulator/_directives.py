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
``[[args={json}]]``    arguments for the tool call (repeatable: the k-th goes with the k-th tool)
``[[invalid-json]]``   content that is not valid JSON (for ``format`` tests)
``[[script=[...]]]``   content tokens exactly: a JSON array of strings or
                       ``{"token": T, "logprob": L, "top": [{"token": A, "logprob": M}, ...]}``
``[[tool-path=P]]``    where tool calls go: ``rendered`` (default; one ``done:false`` chunk
                       per call, id ``call_xxxxxxxx``), ``together`` (all calls in one chunk),
                       ``native`` (calls only on the done chunk, llama-server style id)
``[[busy=N]]``         the first N requests with this prompt get 503 "server busy"
``[[rate-limit=N]]``   the first N requests with this prompt get 429
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

__all__ = ["TOOL_PATHS", "DirectiveError", "Directives", "ScriptToken", "parse_directives"]


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
    args_each: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    script: tuple[ScriptToken, ...] | None = None
    tool_path: str = "rendered"
    busy: int | None = None
    rate_limit: int | None = None
    shape: str | None = None


@dataclass(frozen=True)
class ScriptToken:
    """One ``[[script=...]]`` token: its text, and optionally its logprob and top alternatives."""

    token: str
    logprob: float | None = None
    top: tuple[tuple[str, float], ...] | None = None


TOOL_PATHS = ("rendered", "together", "native")


_FLAGS = {
    "malformed": "malformed", "utf8": "utf8", "html": "html", "echo": "echo",
    "markdown": "markdown", "length": "length", "invalid-json": "invalid_json",
}
_COUNTS = {"tokens": "tokens", "error-after": "error_after", "drop-after": "drop_after",
           "busy": "busy", "rate-limit": "rate_limit"}
_JSON_VALUED = ("args", "script")
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
    if name == "tool-path":
        if raw not in TOOL_PATHS:
            raise DirectiveError(f"[[tool-path={raw}]] needs one of: {', '.join(TOOL_PATHS)}")
        return {"tool_path": raw}
    if not raw.strip():
        raise DirectiveError("[[tool=NAME]] needs a tool name")
    return {}


def _is_logprob(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0


def _script_token(item: Any) -> ScriptToken:
    if isinstance(item, str):
        return ScriptToken(item)
    bad = DirectiveError('[[script=...]] items are strings or {"token": "Hi", "logprob": -0.1, '
                         '"top": [{"token": "hi", "logprob": -2.3}]} (logprobs are numbers <= 0)')
    if not isinstance(item, dict) or not isinstance(item.get("token"), str):
        raise bad
    logprob = item.get("logprob")
    if logprob is not None and not _is_logprob(logprob):
        raise bad
    top = item.get("top")
    if top is None:
        return ScriptToken(item["token"], logprob)
    if not isinstance(top, list) or not all(
        isinstance(alt, dict) and isinstance(alt.get("token"), str) and _is_logprob(alt.get("logprob"))
        for alt in top
    ):
        raise bad
    return ScriptToken(item["token"], logprob, tuple((alt["token"], float(alt["logprob"])) for alt in top))


def _json_directive(name: str, value: Any) -> dict[str, Any]:
    if name == "args":
        if not isinstance(value, dict):
            raise DirectiveError('[[args=...]] needs one JSON object, e.g. [[args={"city": "Paris"}]]')
        return {"args": value}
    if not isinstance(value, list):
        raise DirectiveError('[[script=...]] needs a JSON array, e.g. [[script=["Hello", " world"]]]')
    return {"script": tuple(_script_token(item) for item in value)}


def parse_directives(text: str) -> tuple[str, Directives]:
    """Split ``text`` into the text without directives and the directives found.

    Example:
        >>> parse_directives('call [[tool=add]][[args={"a": [1, 2]}]]')[1].args
        {'a': [1, 2]}
    """
    found: dict[str, Any] = {}
    tools: list[str] = []
    args_each: list[dict[str, Any]] = []
    kept: list[str] = []
    pos = 0
    for match in _OPENING.finditer(text):
        if match.start() < pos:
            continue
        name, has_value = match.group(1), bool(match.group(2))
        if name not in _FLAGS and name not in _COUNTS and name not in (
            "delay", "status", "tool", "tool-path", "shape", *_JSON_VALUED
        ):
            continue
        start = match.end()
        if name in _JSON_VALUED and has_value:
            try:
                value, close = json.JSONDecoder().raw_decode(text, start)
            except json.JSONDecodeError as exc:
                raise DirectiveError(f"[[{name}=...]] holds invalid JSON: {exc.msg}") from None
            if not text.startswith("]]", close):
                raise DirectiveError(f"[[{name}=...]] needs one JSON value followed by ]]")
            parsed = _json_directive(name, value)
            if "args" in parsed:
                args_each.append(parsed["args"])
                found.setdefault("args", parsed["args"])
            else:
                found.update(parsed)
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
    directives = replace(Directives(**found), tools=tuple(tools), args_each=tuple(args_each))
    return "".join(kept).strip(), directives
