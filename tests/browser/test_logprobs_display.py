"""The logprobs display in a real JupyterLab: a kernel cell asks the simulator for logprobs of hostile
tokens and shows ``HTML(logprobs_html(...))``. The spans render, shaded, with the alternatives in their
``title``; no token becomes an element and nothing runs, even on hover."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ollama_nb.simulator import Simulator

HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    " <script>window.__pwned=2</script>",
    '" onmouseover="window.__pwned=3" x="',
    "</span><img src=x onerror=window.__pwned=4>",
    "\nnext line",
    " plain",
]
ALTERNATIVE = "<b onmouseover=window.__pwned=5>alt</b>"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def cell_source(sim: Simulator) -> str:
    script = [{"token": token, "logprob": -0.05 - i, "top": [{"token": token, "logprob": -0.05 - i},
                                                              {"token": ALTERNATIVE, "logprob": -3.5 - i}]}
              for i, token in enumerate(HOSTILE)]
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": f"[[script={json.dumps(script)}]]"}],
            "logprobs": True, "top_logprobs": 2}
    return "\n".join([
        "import json, httpx",
        "from IPython.display import HTML",
        "from ollama_nb.view import logprobs_html",
        f"lines = httpx.post({sim.url + '/api/chat'!r}, json={body!r}, timeout=30).content.splitlines()",
        "entries = [e for line in lines for e in json.loads(line).get('logprobs', [])]",
        "HTML(logprobs_html(entries))",
    ])


def test_logprobs_html_renders_spans_with_alternatives_and_runs_nothing(notebook: Any, sim: Simulator) -> None:
    nb = notebook([cell_source(sim)])
    nb.run_cell(0, timeout=90)
    output = nb.outputs(0)
    spans = output.locator("span[title]")
    spans.first.wait_for(state="visible", timeout=20_000)
    assert spans.count() == len(HOSTILE)
    for i, token in enumerate(HOSTILE):
        span = spans.nth(i)
        title = span.get_attribute("title") or ""
        assert title.startswith(json.dumps(token, ensure_ascii=False)), title
        assert "alternatives:" in title and json.dumps(ALTERNATIVE) in title
        assert "rgba(255, 136, 0" in (span.get_attribute("style") or "")
        span.hover()  # an injected onmouseover would fire now
    text = output.first.inner_text()
    assert '<img src=x onerror="window.__pwned=1">' in text and "<script>window.__pwned=2</script>" in text
    assert output.locator("span[title] br").count() == 1  # the newline token
    assert output.locator("img, script, style, b, iframe").count() == 0
    assert nb.page.evaluate("typeof window.__pwned") == "undefined"
    assert nb.page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    attributes = nb.page.evaluate(
        "Array.from(document.querySelectorAll('.jp-OutputArea-output span[title], .jp-OutputArea-output span[title] *'))"
        ".flatMap(el => Array.from(el.attributes).map(a => el.tagName + '.' + a.name))"
    )
    assert set(attributes) == {"SPAN.style", "SPAN.title"}
    assert len(sim.requests) == 1 and sim.requests[0].body is not None and sim.requests[0].body["logprobs"] is True
