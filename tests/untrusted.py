"""Checks shared by the tests of untrusted output: is every displayed bundle inert?

``text/markdown`` is rendered through JupyterLab's own Markdown pipeline (marked + its math pass,
run with node: see tests/test_markdown.py) and the HTML it gives is checked; ``text/html`` is
checked as it is. Nothing from a model, a tool or a server may leave a tag, an event handler or an
unsafe URL.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, Iterable

import test_markdown
from ollama_nb._markdown import url_is_safe
from test_markdown import _render_in_jupyterlab  # JupyterLab's pipeline (node)

#: Raw markup that must never appear in a text/markdown or text/html output.
RAW_TAG = re.compile(r"<\s*/?\s*(img|script|svg|iframe|object|embed)\b", re.I)

#: Tags and attributes the package itself writes into text/html and Markdown.
_HTML_TAGS = {"div", "span", "pre", "code", "b", "br", "sub", "details", "summary"}
_HTML_ATTRS = {"style", "class"}


class _HtmlCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            self.problems.append(f"<{tag}>")
        self.problems += [f"{name}= on <{tag}>" for name, _ in attrs if name not in _HTML_ATTRS]

    handle_startendtag = handle_starttag


class _MarkdownCheck(HTMLParser):
    """Rendered Markdown may hold what marked writes, plus the few tags and ``style`` attributes
    the package writes itself (``<pre style>``, ``<span style>``, ``<sub>``, ``<details>``)."""

    tags = test_markdown._TAGS | {"span", "sub", "details", "summary"}
    attrs = test_markdown._ATTRS | {"style"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.tags:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name not in self.attrs:
                self.problems.append(f"{name}= on <{tag}>")
            elif name in ("href", "src") and value and not url_is_safe(value):
                self.problems.append(f"{name}={value!r}")

    handle_startendtag = handle_starttag


def _problems(rendered: str) -> list[str]:
    check = _MarkdownCheck()
    check.feed(rendered)
    check.close()
    return check.problems


def html_problems(markup: str) -> list[str]:
    """Tags or attributes in ``markup`` that the package does not write itself."""
    check = _HtmlCheck()
    check.feed(markup)
    check.close()
    return check.problems + [f"raw {m.group(0)!r}" for m in RAW_TAG.finditer(markup)]


def bundles_of(outputs: Iterable[Any]) -> list[dict[str, Any]]:
    """The data dicts of outputs (IPython RichOutput, kernel messages' content, or plain dicts)."""
    found = []
    for output in outputs:
        data = getattr(output, "data", None)
        if data is None and isinstance(output, dict):
            data = output.get("data", output)
        if isinstance(data, dict):
            found.append(data)
    return found


def problems_in(bundles: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Every text/markdown and text/html in ``bundles`` that is not inert, with what is wrong."""
    found: dict[str, list[str]] = {}
    markdowns = [b["text/markdown"] for b in bundles if b.get("text/markdown")]
    for source, rendered in zip(markdowns, _render_in_jupyterlab(markdowns)):
        wrong = _problems(rendered) + [f"raw {m.group(0)!r}" for m in RAW_TAG.finditer(source)]
        if wrong:
            found[source[:300]] = wrong
    for bundle in bundles:
        if bundle.get("text/html"):
            wrong = html_problems(bundle["text/html"])
            if wrong:
                found[bundle["text/html"][:300]] = wrong
    return found


def visible_text(rendered_html: str) -> str:
    """What a reader sees of rendered HTML (``<br>`` as a line break)."""

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag == "br":
                self.parts.append("\n")

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    parser = Text()
    parser.feed(rendered_html)
    parser.close()
    return "".join(parser.parts).strip()


def render(markdowns: list[str]) -> list[str]:
    """HTML of each Markdown source, rendered as JupyterLab renders it."""
    return _render_in_jupyterlab(list(markdowns))
