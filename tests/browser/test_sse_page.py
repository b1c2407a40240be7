"""The example web page in Chromium: the streamed text arrives as text, and Stop stops Ollama.

The page (examples/sse_page.html) is served by the FastAPI and the Flask example in front of the
simulator. A user types a prompt and clicks Ask; the answer must be the reply's exact text with
any markup in it left as text (no element created, no script run). Clicking Stop closes the
EventSource; the simulator must then see the Ollama connection close mid-reply.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from web_apps import serve

from ollama_nb import Client
from ollama_nb.simulator import Simulator

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.timeout(120)

MARKUP = "show me markup [[html]]"
PACED = "count [[delay=0.05]] [[tokens=400]]"
PACED_TOTAL_LINES = 401
FRAMEWORKS = pytest.mark.parametrize("framework", ["fastapi", "flask"])


@pytest.fixture
def web_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def _ask(page: Page, prompt: str) -> None:
    page.fill("#prompt", prompt)
    page.click("button[type=submit]")


@FRAMEWORKS
def test_answer_arrives_as_text_with_its_markup_inert(framework: str, simulator: Simulator, web_page: Page) -> None:
    with Client(simulator.url) as client:
        expected = client.chat("llama3.2", [{"role": "user", "content": MARKUP}]).read()
    assert "<script>" in expected and "onerror=" in expected  # the case is real
    dialogs: list[str] = []
    web_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    with serve(framework, simulator) as base:
        web_page.goto(base + "/")
        _ask(web_page, MARKUP)
        web_page.wait_for_function("document.getElementById('status').textContent !== ''", timeout=30_000)
        status = web_page.text_content("#status")
        answer = web_page.text_content("#answer")
        elements_in_answer = web_page.locator("#answer *").count()
    assert status is not None and status.startswith("stop · ")
    assert answer == expected
    assert elements_in_answer == 0 and dialogs == []


@FRAMEWORKS
def test_stop_button_closes_the_ollama_stream(framework: str, simulator: Simulator, web_page: Page) -> None:
    with serve(framework, simulator) as base:
        web_page.goto(base + "/")
        _ask(web_page, PACED)
        web_page.wait_for_function("document.getElementById('answer').textContent.length > 40", timeout=30_000)
        web_page.click("#stop")
        disconnect = simulator.wait_for("disconnect", timeout=10)
        status = web_page.text_content("#status")
    assert disconnect.path == "/api/chat" and disconnect.lines_sent < PACED_TOTAL_LINES // 2
    assert status == "stopped"


@FRAMEWORKS
def test_an_error_mid_reply_is_shown_and_the_text_so_far_kept(framework: str, simulator: Simulator, web_page: Page) -> None:
    with serve(framework, simulator) as base:
        web_page.goto(base + "/")
        _ask(web_page, "fail soon [[error-after=3]]")
        web_page.wait_for_function("document.getElementById('status').textContent !== ''", timeout=30_000)
        status = web_page.text_content("#status")
        answer = web_page.text_content("#answer")
    assert status is not None and "model runner has unexpectedly stopped" in status
    assert answer is not None and answer.startswith("*(simulated reply)*")
