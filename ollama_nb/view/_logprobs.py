"""Token log-probabilities as plain HTML: each token shaded by how unlikely it was, alternatives on hover.

The output is a ``<div>`` of ``<span>`` elements with inline styles and a ``title`` attribute:
no JavaScript, no ``<style>`` block, no classes, so it survives saving the notebook and renders
the same in nbconvert and on GitHub. Tokens come from a model and are untrusted: the HTML is a
:class:`~ollama_nb._safe.SafeHtml` in which every token and alternative is escaped
(``SafeHtml.escape``, quotes included), so none can close the ``title="…"`` attribute or open an
element; a newline becomes ``<br>``, spaces are kept (``white-space: pre-wrap``).

Shading: the background alpha grows as the probability ``exp(logprob)`` falls, so a confident
token is almost plain and a doubtful one stands out. A token without a usable logprob is left
unshaded.

Example:
    >>> html = logprobs_html([{"token": "Hi", "logprob": -0.01,
    ...                        "top_logprobs": [{"token": "Hi", "logprob": -0.01}, {"token": "<b>", "logprob": -5.2}]}])
    >>> "<b>" in html, "&lt;b&gt;" in html
    (False, True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from .._safe import SafeHtml
from ..client import BaseReply
from ._outputs import html_bundle

__all__ = ["logprobs_bundle", "logprobs_html", "logprobs_summary", "show_logprobs", "token_probability"]

_CONTAINER = (
    "font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; "
    "line-height: 1.7; overflow-wrap: anywhere"
)
_NOTE = "font-size: 0.8em; opacity: 0.7; margin-top: 0.4em; font-family: sans-serif; white-space: normal"
_SHADE = "255, 136, 0"  # orange: readable on light and dark themes


def _field(item: Any, name: str) -> Any:
    """``item[name]`` for a wire dict, ``item.name`` for an object (None when missing)."""
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def token_probability(logprob: Any) -> float | None:
    """``exp(logprob)`` clamped to 0..1, or None when the logprob is missing or not a number.

    Example:
        >>> token_probability(0.0), token_probability(None), round(token_probability(-0.6931), 3)
        (1.0, None, 0.5)
    """
    if isinstance(logprob, bool) or not isinstance(logprob, (int, float)) or math.isnan(logprob):
        return None
    return math.exp(min(float(logprob), 0.0))


def _percent(p: float | None) -> str:
    if p is None:
        return "?"
    if p >= 0.001 or p == 0:
        return f"{p * 100:.1f}%"
    return f"{p * 100:.1e}%"


def _shown(token: Any) -> str:
    """A token as a readable, quoted literal for the tooltip (newlines and tabs made visible)."""
    return json.dumps(str(token) if token is not None else "", ensure_ascii=False)


def _title(token: str, logprob: Any, alternatives: Iterable[Any]) -> str:
    lines = [f"{_shown(token)}  {_percent(token_probability(logprob))}  (logprob {logprob})"]
    rows = [
        f"  {_shown(_field(alt, 'token'))}  {_percent(token_probability(_field(alt, 'logprob')))}"
        for alt in alternatives
    ]
    if rows:
        lines += ["alternatives:", *rows]
    return "\n".join(lines)


def _text(token: str) -> SafeHtml:
    lines = token.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return SafeHtml.trusted("<br>").join(SafeHtml.escape(line) for line in lines)


def _attribute(value: str) -> SafeHtml:
    return SafeHtml.trusted("&#10;").join(SafeHtml.escape(line) for line in value.split("\n"))


def _span(item: Any) -> SafeHtml:
    token = _field(item, "token")
    token = "" if token is None else str(token)
    logprob = _field(item, "logprob")
    p = token_probability(logprob)
    alpha = 0.0 if p is None else round(0.06 + 0.74 * (1.0 - p), 2)
    style = f"background-color: rgba({_SHADE}, {alpha}); border-radius: 3px"
    title = _title(token, logprob, _field(item, "top_logprobs") or ())
    span = SafeHtml.trusted('<span style="{}" title="{}">{}</span>')
    return span.format(SafeHtml.escape(style), _attribute(title), _text(token))


def logprobs_html(tokens: Iterable[Any]) -> SafeHtml:
    """HTML showing each token shaded by its probability, with its alternatives on hover.

    ``tokens``: items with ``token``, ``logprob`` and ``top_logprobs`` (each with ``token`` and
    ``logprob``), as wire dicts (Ollama's ``logprobs`` array) or objects with those attributes.

    Example:
        >>> from IPython.display import HTML  # doctest: +SKIP
        >>> HTML(logprobs_html(reply.logprobs))  # doctest: +SKIP
        >>> logprobs_html([]).endswith(">no tokens</div></div>")
        True
    """
    spans = [_span(item) for item in tokens]
    note = (
        (
            f"{len(spans)} token{'s' if len(spans) != 1 else ''} · the less likely, the darker · "
            "hover a token for its alternatives"
        )
        if spans
        else "no tokens"
    )
    page = SafeHtml.trusted('<div style="{}">{}<div style="{}">{}</div></div>')
    return page.format(
        SafeHtml.escape(_CONTAINER), SafeHtml.trusted("").join(spans), SafeHtml.escape(_NOTE), SafeHtml.escape(note)
    )


def logprobs_summary(reply: BaseReply, *, least: int = 3) -> str:
    """One plain line for ``text/plain`` (terminals, -o untouched): the token count and the least likely.

    Example:
        >>> logprobs_summary(reply)   # doctest: +SKIP
        '[logprobs] 3 tokens · least likely: "</b>" 99.9%, "<b>" 90.0%, "Hi" 100.0%'
    """
    tokens = reply.logprobs
    ranked = sorted(tokens, key=lambda t: t.logprob)[:least]
    shown = ", ".join(f"{_shown(t.token)} {_percent(token_probability(t.logprob))}" for t in ranked)
    return f"[logprobs] {len(tokens)} token{'s' if len(tokens) != 1 else ''}" + (
        f" · least likely: {shown}" if shown else ""
    )


def logprobs_bundle(reply: BaseReply) -> dict[str, str]:
    """The reply's tokens shaded (``text/html``, escaped, no JavaScript) with a one-line ``text/plain``."""
    return html_bundle(logprobs_html(reply.logprobs), logprobs_summary(reply))


def show_logprobs(reply: BaseReply) -> None:
    """Display :func:`logprobs_bundle` as an output of its own (saved in the notebook, renders on GitHub)."""
    from IPython.display import display

    display(logprobs_bundle(reply), raw=True)
