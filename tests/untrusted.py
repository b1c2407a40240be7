"""Checks shared by the tests of untrusted output: is every displayed bundle inert?

``text/markdown`` is rendered through JupyterLab's own Markdown pipeline (marked + its math pass,
run with node: see tests/test_markdown.py) and the HTML it gives is checked; ``text/html`` is
checked as it is. Nothing from a model, a tool or a server may leave a tag, an event handler or an
unsafe URL.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any, Iterable, Iterator

from IPython.core.interactiveshell import InteractiveShell

import test_markdown
from ollama_nb import _session
from ollama_nb.simulator._hostile import PAYLOAD
from test_markdown import _render_in_jupyterlab  # JupyterLab's pipeline (node)

#: Raw markup that must never appear in a text/markdown or text/html output.
RAW_TAG = re.compile(r"<\s*/?\s*(img|script|svg|iframe|object|embed)\b", re.I)

class _MarkdownCheck(test_markdown._HtmlCheck):
    """test_markdown's check of rendered Markdown, which also lets through the few tags and the
    ``style``/``class`` attributes the package writes itself (``<pre style>``, ``<span style>``,
    ``<sub>``, ``<details>``, the side-by-side ``<div>`` columns); their content is checked as usual."""

    ours = {"span", "sub", "details", "summary", "div"}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kept = [(n, v) for n, v in attrs if n not in ("style", "class")]
        super().handle_starttag("p" if tag in self.ours else tag, kept)

    handle_startendtag = handle_starttag


def _problems(rendered: str) -> list[str]:
    check = _MarkdownCheck()
    check.feed(rendered)
    check.close()
    return check.problems


#: A notebook function that returns hostile text, for ``--tools lookup``.
TOOL = f'''def lookup(q: str) -> str:
    """Look something up."""
    return {PAYLOAD + chr(10) + "second | line"!r}'''
#: The call the tool-calling turn makes (its argument is hostile too).
TOOL_CALL = "lookup(q='<img src=x onerror=window.__pwned=1>')"
#: Cells that fail with the server's (hostile) error text; the second's prompt shows in timings.
FAILING = [
    "%ollama_chat fails [[status=500]]",
    "%%ollama\n<img src=x onerror=window.__pwned=1> fails [[tokens=5]] [[error-after=2]]",
]


#: TeX in a model's answer that MathJax (all packages, behind its safe filter, in JupyterLab 4)
#: would turn into a link, a style, a class, an id, data or a loaded package; each in its own
#: paragraph. Measured before the fix: the https links became ``<a href>`` and the styles stayed
#: (border, padding, background capped at 3em); the javascript: links, classes and ids were dropped.
MATH_PAYLOADS = [
    r"$\href{javascript:window.__pwned=1}{jslink}$",
    r"$\href{https://evil.example/}{httpslink}$",
    r"$\style{position:fixed;top:0;left:0;width:100vw;height:100vh;z-index:99999;background:red;border:3em solid red}{cover}$",
    r"$\class{jp-Notebook}{classed}$ $\cssId{main}{ided}$ $\data{onclick=window.__pwned}{dataed}$",
    r"$\unicode[some-font]{65}$ $\require{html}\href{javascript:window.__pwned=1}{required}$",
    r"$\bbox[background:blue;padding:3em]{boxed}$ $\mmlToken{mi}[href='https://evil.example/']{token}$",
    r"\$\href{https://evil.example/}{dollarlink}\$ and \\(\href{https://evil.example/}{parenlink}\\)",
    r"$$\style{border:3em solid red}{display}$$",
]
#: A reply made of :data:`MATH_PAYLOADS` (token by token, as the model sent it).
MATH_CELL = "%ollama_chat --no-interpolate math [[script=" + json.dumps([p + "\n\n" for p in MATH_PAYLOADS]) + "]]"


@contextmanager
def ollama_shell(host: str) -> Iterator[InteractiveShell]:
    """A real ``InteractiveShell`` (not a kernel) with ollama_nb loaded and talking to ``host``."""
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "ollama_nb")
    magics = shell.magics_manager.registry["OllamaMagics"]
    magics.host, magics.model, magics.system, magics.options = host, "llama3.2", "", {}
    _session._SESSIONS.clear()
    try:
        yield shell
    finally:
        magics.system = ""
        shell.run_line_magic("unload_ext", "ollama_nb")
        _session._SESSIONS.clear()


def hostile_cells(save_path: str) -> list[str]:
    """One cell per magic and subcommand, each fed hostile text (after a setup cell of the caller's).

    Against ``Simulator(hostile=True)``; ``save_path`` is where ``%ollama save`` writes (escape
    spaces with a backslash).
    """
    return [
        TOOL,
        f"%config OllamaMagics.system = {PAYLOAD!r}",
        '%ollama_chat --no-interpolate --tools lookup find it [[tool=lookup]] [[args={"q": "<img src=x onerror=window.__pwned=1>"}]]',
        "%ollama_chat tell me [[html]] [[markdown]]",
        MATH_CELL,
        "%%ollama -m qwen3 --think\nthink [[html]]",
        "%%ollama -m llama3.2,qwen3\ncompare [[html]]",
        "%ollama models",
        "%ollama show llama3.2",
        "%ollama ps",
        "%ollama pull tinyllama",
        *FAILING,
        "%ollama history",
        "%ollama timings",
        f"%ollama save {save_path}",
        f"%ollama load {save_path}",
        "%ollama config",
        "%ollama reset",
        "%ollama help",
    ]


def html_problems(markup: str) -> list[str]:
    """Tags or attributes in ``markup`` (text/html) that the package does not write itself."""
    return _problems(markup) + [f"raw {m.group(0)!r}" for m in RAW_TAG.finditer(markup)]


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
