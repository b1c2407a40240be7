"""Deterministic reply text, cut into tokens the way a model streams them.

Nothing here pretends to be a model: every text reply starts with
``*(simulated reply)* `` (except ``[[echo]]``, ``[[script=...]]``, ``format`` JSON, tool calls,
and answers to tool results sent with ``tool_call_id``: one chunk per result,
``"Paris: 18C, clear."``, as derived_wire_chat_stream_tool_result_answer.ndjson). The same
model + conversation + seed always gives the same tokens. Tokens are word pieces with
their leading space, like real tokenizers (``" sky"``, ``"."``, ``" sim"`` ``"ulated"``).

Example:
    >>> plan = plan_reply(ReplyInput(model="llama3.2", text="Why is the sky blue?"))
    >>> "".join(plan.content).startswith("*(simulated reply)* ")
    True
    >>> len(plan.content)
    60
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from ._directives import Directives

__all__ = ["PREFIX", "ReplyInput", "ReplyPlan", "example_value", "plan_reply", "tokenize"]

PREFIX = "*(simulated reply)*"
DEFAULT_TOKENS = 60
_THINK_TOKENS = {"low": 8, "medium": 16, "high": 32, "max": 48, "true": 16}

_PIECE = re.compile(r"\s*(?:[^\W\d_]{1,8}|\d{1,3}|[^\w\s]|_)|\s+")

# Words as pieces with their leading space; "+" joins the pieces of a longer word.
_WORDS: tuple[tuple[str, ...], ...] = tuple(
    tuple([" " + word.split("+")[0]] + word.split("+")[1:])
    for word in (
        "the light river stream answer quiet simple blue sky water cell kernel output window"
        " garden paper stone cloud morning evening signal pattern value line text small steady"
        " bright careful clear open short long warm cold useful plain note+book sim+ulated"
        " deter+min+istic tok+en+izer stream+ing comp+uter exam+ple moves holds shows carries"
        " turns waits reads writes keeps follows makes finds and with from into over under"
        " while because so then each every some this"
    ).split()
)
_FILLER: tuple[str, ...] = tuple(piece for word in _WORDS for piece in word) + (",", ".")
_UTF8_TOKENS = (
    " Grü", "ße", " naï", "vé", " café", " 日本", "語", " テキ", "スト", " 🙂", " 🚀",
    " Ελλ", "ηνικά", " Рус", "ский", " —", " €5", " ñandú", " 中文", " ✓",
)

_MARKDOWN = (
    " Here is some Markdown.\n\n## Simulated heading\n\n"
    "- first item\n- second item with **bold** text\n- third item with `inline code`\n\n"
    "```python\ndef greet(name: str) -> str:\n    return f\"Hello, {name}!\"\n```\n\n"
    "| column | value |\n|--------|-------|\n| alpha  | 1     |\n| beta   | 2     |\n"
)
_HTML = (
    "Markup must stay text: <img src=x onerror=\"alert('img')\"> and "
    "<script>alert(\"script\")</script> & <b>bold?</b>"
)


def tokenize(text: str) -> list[str]:
    """Cut text into word pieces whose concatenation is exactly ``text``.

    Example:
        >>> tokenize(" The notebook shows 2024.")
        [' The', ' notebook', ' shows', ' 202', '4', '.']
    """
    return _PIECE.findall(text)


@dataclass(frozen=True)
class ReplyInput:
    """What the reply depends on (already validated by the server)."""

    model: str
    text: str = ""
    conversation: str = ""
    directives: Directives = field(default_factory=Directives)
    seed: int | None = None
    think: str | None = None  # None or a level: "true", "low", "medium", "high", "max"
    tools: tuple[dict[str, Any], ...] = ()
    tool_results: tuple[tuple[str, str], ...] = ()  # (tool_name, content) of trailing tool messages
    tool_labels: tuple[str, ...] = ()  # per result, when every result has a tool_call_id: what was asked
    format: Any = None
    image_sizes: tuple[int, ...] = ()
    num_predict: int | None = None


@dataclass(frozen=True)
class ReplyPlan:
    """The tokens to stream and how the reply ends."""

    thinking: list[str]
    content: list[str]
    tool_calls: list[dict[str, Any]]
    done_reason: str

    @property
    def eval_count(self) -> int:
        """Tokens "generated": thinking + content + ~12 per tool call."""
        return len(self.thinking) + len(self.content) + 12 * len(self.tool_calls)


def _rng(inp: ReplyInput) -> random.Random:
    key = f"{inp.model}\0{inp.conversation or inp.text}\0{inp.seed}".encode("utf-8", "replace")
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def _sentences(rng: random.Random, count: int) -> list[str]:
    """Exactly ``count`` filler tokens forming sentences that each end with a full stop."""
    out: list[str] = []
    while len(out) < count:
        room = count - len(out) - 1  # tokens left before this sentence's full stop
        if room == 0:
            out.append(" Yes.")
            break
        words = rng.choices(_WORDS, k=rng.randint(5, 11))
        first = words[0]
        words[0] = (" " + first[0][1:].capitalize(), *first[1:])
        pieces = [piece for word in words for piece in word]
        out.extend(pieces[:room])
        out.append(".")
    return out


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return target if isinstance(target, dict) else {}
    return schema


def example_value(schema: Any, *, text: str = "Tokyo", required_only: bool = False,
                  root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value that fits a JSON schema: integer 2, number 1.5, boolean true, string ``text``.

    Example:
        >>> example_value({"type": "object", "properties": {"city": {"type": "string"},
        ...     "days": {"type": "integer"}}, "required": ["city"]}, required_only=True)
        {'city': 'Tokyo'}
    """
    if not isinstance(schema, dict) or depth > 8:
        return None
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for combo in ("anyOf", "oneOf", "allOf"):
        options = [s for s in schema.get(combo) or [] if isinstance(s, dict) and s.get("type") != "null"]
        if options:
            return example_value(options[0], text=text, required_only=required_only, root=root, depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and isinstance(schema.get("properties"), dict):
        kind = "object"
    if kind == "object":
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        names = [n for n in props if n in required] + [n for n in required if n not in props] \
            if required_only else list(props)
        return {n: example_value(props.get(n, {"type": "string"}), text=text, required_only=required_only,
                                 root=root, depth=depth + 1) for n in names}
    if kind == "array":
        item = schema.get("items")
        one = [example_value(item, text=text, required_only=required_only, root=root, depth=depth + 1)] \
            if isinstance(item, dict) else []
        return _sized(one, schema)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "string":
        return _string(schema, text)
    return {"boolean": True}.get(str(kind))


# Real Ollama turns the schema into a llama.cpp grammar (llama/sampling_ext.cpp schema_to_grammar ->
# llama.cpp common/json-schema-to-grammar.cpp), which enforces formats, bounds, lengths, patterns and
# item counts; the values below respect the same constraints.
_FORMATS = {"date": "2024-05-17", "date-time": "2024-05-17T09:30:00Z", "time": "09:30:00Z",
            "uuid": "3f2b8c1e-7d4a-4e6b-9c0d-5a1f2e3b4c5d", "email": "user@example.com",
            "uri": "https://example.com/", "hostname": "example.com", "ipv4": "192.0.2.1"}
_PATTERN_TRIES = ("simulated", "Tokyo", "A1", "abc", "ABC", "a", "A", "0", "1", "123", "abc123", "ABC-123",
                  "2024-05-17", "user@example.com", "+1-555-0100", "#a1b2c3", "x")


def _sized(items: list[Any], schema: dict[str, Any]) -> list[Any]:
    """``items`` repeated up to ``minItems`` and cut to ``maxItems``."""
    low, high = schema.get("minItems"), schema.get("maxItems")
    if isinstance(low, int) and items and len(items) < low:
        items = items * low
    return items[:high] if isinstance(high, int) and high >= 0 else items


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    """2 (or 1.5) moved inside ``minimum``/``maximum`` (exclusive too) and onto ``multipleOf``."""
    value: float = 2 if integer else 1.5
    step = 1 if integer else 0.5
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        low = schema["exclusiveMinimum"] + step
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        high = schema["exclusiveMaximum"] - step
    if isinstance(low, (int, float)) and value < low:
        value = low
    if isinstance(high, (int, float)) and value > high:
        value = high
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0:
        value = math.ceil(value / multiple) * multiple
    return int(math.ceil(value)) if integer else float(value)


def _string(schema: dict[str, Any], text: str) -> str:
    """``text``, or a value of the ``format``, fitted to ``pattern``, ``minLength`` and ``maxLength``."""
    value = _FORMATS.get(str(schema.get("format")), text)
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            rule = re.compile(pattern)
        except re.error:
            rule = None
        if rule is not None and not rule.search(value):
            value = next((t for t in _PATTERN_TRIES if rule.search(t)), value)
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(value) < low:
        value = value + "x" * (low - len(value))
    if isinstance(high, int) and high >= 0:
        value = value[:high]
    return value


_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


def _tool_calls(inp: ReplyInput, rng: random.Random) -> list[dict[str, Any]]:
    by_name: dict[str, dict[str, Any]] = {}
    for tool in inp.tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            by_name.setdefault(function["name"], function)
    names = list(inp.directives.tools) or list(by_name)[:1]
    calls = []
    each = inp.directives.args_each
    for index, name in enumerate(names):
        if each:
            args = each[min(index, len(each) - 1)]
        elif inp.directives.args is not None:
            args = inp.directives.args
        else:
            params = by_name.get(name, {}).get("parameters") or {"type": "object"}
            args = example_value(params, required_only=True)
            args = args if isinstance(args, dict) else {}
        if inp.directives.tool_path == "native":  # llama.cpp's gen_tool_call_id(): 32 random [0-9a-zA-Z]
            ident = "".join(rng.choices(_ALNUM + _ALNUM[10:].upper(), k=32))
        else:  # Ollama's toolCallId(): "call_" + 8 of [a-z0-9] (server/routes.go:2305-2312)
            ident = "call_" + "".join(rng.choices(_ALNUM, k=8))
        calls.append({"id": ident, "function": {"index": index, "name": name, "arguments": args}})
    return calls


def _json_text(inp: ReplyInput, rng: random.Random) -> str:
    if isinstance(inp.format, dict):
        from ._grading import graded  # enum labels that depend on model, prompt and seed

        value = graded(inp.format, example_value(inp.format, text="simulated"), model=inp.model,
                       text=inp.conversation or inp.text, seed=inp.seed)
    else:
        value = {"simulated": True, "model": inp.model, "answer": "".join(_sentences(rng, 8)).strip()}
    text = json.dumps(value, ensure_ascii=False)
    if inp.directives.invalid_json:
        text = text[:-1] + ",}" if text.endswith(("}", "]")) else text + ","
    return text


def _body(inp: ReplyInput, rng: random.Random) -> list[str]:
    """Content tokens before any [[tokens=N]] / num_predict adjustment."""
    d = inp.directives
    if inp.tool_results and len(inp.tool_labels) == len(inp.tool_results):
        return [f"{' ' if i else ''}{label}: {content}."
                for i, (label, (_, content)) in enumerate(zip(inp.tool_labels, inp.tool_results, strict=True))]
    if inp.tool_results:
        said = " ".join(f"The tool {name} returned: {content}." for name, content in inp.tool_results)
        return [PREFIX] + tokenize(" " + said)
    if inp.format is not None or d.invalid_json:
        return tokenize(_json_text(inp, rng))
    if d.echo:
        return tokenize(inp.text)
    head = ""
    if inp.image_sizes:
        n = len(inp.image_sizes)
        sizes = ", ".join(f"{size} bytes" for size in inp.image_sizes)
        head = f" I received {n} image{'s' if n != 1 else ''} ({sizes})."
    if d.shape is not None:
        from ._shapes import shape_tokens

        return shape_tokens(d.shape, d.tokens, rng)
    if d.markdown:
        return [PREFIX] + tokenize(head + _MARKDOWN)
    if d.html:
        return [PREFIX] + tokenize(head + " " + _HTML)
    if d.utf8:
        return [PREFIX] + tokenize(head) + list(_UTF8_TOKENS)
    quote = " ".join(inp.text.split())
    if quote:
        quote = quote if len(quote) <= 48 else quote[:47] + "…"
        head += f' You asked: "{quote}".'
    tokens = [PREFIX] + tokenize(head)
    return tokens + _sentences(rng, max(DEFAULT_TOKENS - len(tokens), 12))


def _fit(tokens: list[str], count: int, inp: ReplyInput, rng: random.Random) -> list[str]:
    """Exactly ``count`` tokens: cut, or pad with more of the same kind of text."""
    if len(tokens) >= count:
        return tokens[:count]
    missing = count - len(tokens)
    if inp.format is not None:
        pad: list[str] = [" "] * missing
    elif inp.directives.utf8:
        pad = rng.choices(_UTF8_TOKENS, k=missing)
    else:
        pad = rng.choices(_FILLER, k=missing)
    return tokens + pad


def plan_reply(inp: ReplyInput) -> ReplyPlan:
    """Decide the whole reply for one request: thinking, content or tool calls, done_reason.

    Example:
        >>> from ._directives import parse_directives
        >>> text, d = parse_directives("hi [[tokens=5]]")
        >>> len(plan_reply(ReplyInput(model="m", text=text, directives=d)).content)
        5
    """
    rng = _rng(inp)
    thinking: list[str] = []
    if inp.think:
        count = _THINK_TOKENS.get(inp.think, 16)
        thinking = ["*(simulated thinking)*"] + _sentences(rng, count - 1)
    calls: list[dict[str, Any]] = []
    content: list[str] = []
    if inp.tools and not inp.tool_results:
        calls = _tool_calls(inp, rng)
    if not calls:
        script = inp.directives.script
        content = [item.token for item in script] if script is not None else _body(inp, rng)
        if inp.directives.tokens is not None:
            content = _fit(content, inp.directives.tokens, inp, rng)
    done_reason = "length" if inp.directives.length else "stop"
    limit = inp.num_predict
    if limit is not None and limit > 0 and len(thinking) + len(content) > limit:
        keep_thinking = min(len(thinking), limit)
        thinking, content = thinking[:keep_thinking], content[: limit - keep_thinking]
        calls, done_reason = [], "length"
    return ReplyPlan(thinking=thinking, content=content, tool_calls=calls, done_reason=done_reason)


def cut_at_stop(plan: ReplyPlan, stops: Any) -> ReplyPlan:
    """The reply ended where the first ``options.stop`` string begins; the stop string is not sent.

    As llama-server does for Ollama (llm/llama_server.go sends ``stop`` to the runner, which ends the
    completion before the matched text, stop_type "word"); done_reason stays "stop".

    Example:
        >>> plan = ReplyPlan(thinking=[], content=["Hello", " world", ". Bye"], tool_calls=[], done_reason="stop")
        >>> cut_at_stop(plan, ["ld."]).content
        ['Hello', ' wor']
    """
    words = [s for s in stops or [] if isinstance(s, str) and s] if isinstance(stops, list) else []
    text = "".join(plan.content)
    found = [text.find(word) for word in words if word in text]
    if not found:
        return plan
    end, kept, used = min(found), [], 0
    for token in plan.content:
        if used + len(token) >= end:
            if end > used:
                kept.append(token[: end - used])
            break
        kept.append(token)
        used += len(token)
    return ReplyPlan(thinking=plan.thinking, content=kept, tool_calls=plan.tool_calls, done_reason="stop")
