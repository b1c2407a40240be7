"""Untrusted output in a real browser: every magic and subcommand, fed HTML by a hostile server, a hostile
model and a hostile tool, runs nothing in JupyterLab 4 and Notebook 7 and creates no element from
it. Each payload that ran would set ``window.__pwned`` (see ``ollama_nb.simulator._hostile``).

One notebook per front end; a control cell at the end shows that a handler *would* run in this
page, so the test can fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from ollama_nb.simulator import Simulator
from ollama_nb.simulator._hostile import HOSTILE_MODEL
from untrusted import FAILING, MATH_CELL, TOOL_CALL, hostile_cells

from .jupyter import UI

# Watches every element added to the page: an img/script/iframe/object/embed in an output, an
# on* attribute in an output, or any attribute holding a payload, is recorded.
WATCH = """() => {
  window.__created = [];
  const note = (el, why) => window.__created.push(why + ': ' + el.outerHTML.slice(0, 160));
  const check = (el) => {
    if (el.outerHTML.includes('__control')) return;  // the control cell's own image
    const inOutput = el.closest('.jp-OutputArea');
    const tag = el.tagName.toLowerCase();
    if (inOutput && ['img', 'script', 'iframe', 'object', 'embed'].includes(tag)) note(el, tag);
    for (const a of el.attributes) {
      if (inOutput && a.name.startsWith('on')) note(el, a.name);
      if (a.value.includes('pwned') || /^\\s*javascript:/i.test(a.value)) note(el, 'attribute ' + a.name);
    }
    // typeset math (MathJax) links nothing and styles nothing from a model's TeX
    if (inOutput && el.closest('mjx-container')) {
      if (el.hasAttribute('href')) note(el, 'math link');
      if (/background|border|some-font/.test(el.getAttribute('style') || '')) note(el, 'math style');
    }
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes' && m.target.nodeType === 1) check(m.target);
      for (const n of m.addedNodes) if (n.nodeType === 1) [n, ...n.querySelectorAll('*')].forEach(check);
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""

CONTROL = "from IPython.display import HTML\nHTML('<img src=x onerror=\"window.__control=1\">')"


def text_content(outputs: Any) -> str:
    """The text of outputs (textContent: innerText is empty for cells Lab has not laid out)."""
    return "\n".join(outputs.nth(i).text_content() or "" for i in range(outputs.count()))


@pytest.fixture
def hostile() -> Iterator[Simulator]:
    with Simulator(hostile=True, pull_seconds=1.0) as sim:
        yield sim


def cells(sim: Simulator, save_path: Path) -> list[str]:
    setup = f'%load_ext ollama_nb\n%config OllamaMagics.host = "{sim.url}"\n%config OllamaMagics.model = "llama3.2"'
    return [setup, *hostile_cells(str(save_path).replace(" ", "\\ ")), CONTROL]


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_hostile_model_tool_and_server_text_runs_nothing_and_creates_no_element(
    notebook: Any, hostile: Simulator, tmp_path: Path, ui: UI
) -> None:
    save_path = tmp_path / "<img src=x onerror=window.__pwned=1>.json"
    sources = cells(hostile, save_path)
    nb = notebook(sources, kernel="onb-k7", ui=ui)
    dialogs: list[str] = []
    nb.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    nb.page.evaluate(WATCH)
    for index in range(len(sources)):
        nb.run_cell(index, timeout=60)
    nb.page.wait_for_function("() => window.__control === 1", timeout=10_000)  # a handler would run here

    assert nb.page.evaluate("() => window.__pwned") is None
    assert dialogs == []
    assert nb.page.evaluate("() => window.__created") == [], "elements made from untrusted text"
    control = len(sources) - 1
    assert nb.page.locator(".jp-OutputArea img").count() == 1  # only the control cell's
    assert nb.outputs(control).locator("img").count() == 1
    # what was hostile is shown, as text
    def shown(source: str) -> str:
        return text_content(nb.outputs(sources.index(source)))

    history = shown("%ollama history")
    assert TOOL_CALL in history and "second | line" in history
    assert HOSTILE_MODEL in shown("%ollama models") and "<img" in shown("%ollama show llama3.2")
    assert "tinyllama" in shown("%ollama pull tinyllama")
    assert "answered 500" in shown(FAILING[0]) and "<img" in shown(FAILING[0])
    # a model's math is typeset, and its link/style commands show as text
    math = nb.outputs(sources.index(MATH_CELL))
    assert math.locator("mjx-container").count() >= 8
    assert math.locator("mjx-container a, mjx-container [href]").count() == 0
    assert "evil.example" in shown(MATH_CELL) and "cover" in shown(MATH_CELL)
    assert save_path.exists()
    # server text is shown exactly as written: MathJax typesets none of its $…$ or \(…\)
    # (a model's answer may hold math, which is rendered: it is Markdown, made inert)
    for source in ("%ollama models", "%ollama show llama3.2", "%ollama ps"):
        assert "$\\href{javascript:window.__pwned=1}{math}$ \\(x\\)" in shown(source), source
        assert nb.outputs(sources.index(source)).locator("mjx-container").count() == 0, source
