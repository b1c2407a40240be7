"""The Stop button, kernel interrupt, saved notebooks and untrusted HTML in a real browser.

The Stop button and kernel interrupt are tested in JupyterLab 4 and Notebook 7 on both kernel
lines (ipykernel 6 with jupyter-ui-poll, ipykernel 7 with plain await), plus JupyterLab on
ipykernel 7 with comm subshells disabled; a saved and reopened notebook, model output that holds
HTML, and interrupting ``async for chunk in await session.achat(...)`` on fewer combinations.
The Ollama side is a :class:`~ollama_nb.simulator.Simulator` in this pytest process;
the kernel reaches it over 127.0.0.1, and the simulator stamps the moment it sees the connection
close with the same ``time.monotonic()`` clock the test reads just before clicking. That gives
the latency the user cares about: click -> the server stops generating.

One JupyterLab server per module (conftest), one browser context per module (so Lab's assets are
cached), one open notebook per (ui, kernel) that every test of that combination reuses: opening a
notebook costs 10-20 s on a 2-core machine, a scenario 2-4 s. The next combination's kernel is
started on the server while the current one's tests run.

Measured latencies are written to out/browser-latencies.json and printed at the end of the module.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ollama_nb.simulator import Event, Simulator

from .jupyter import REPO, UI, JupyterServer, NotebookPage, open_notebook

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Dialog, Locator, Page

LATENCIES = REPO / "out" / "browser-latencies.json"
# The README's screenshot: always written to out/, copied to docs/ when that file is missing or
# ONB_UPDATE_SCREENSHOT=1 (so an ordinary test run does not rewrite a tracked file).
SCREENSHOT = REPO / "out" / "screenshot-jupyterlab.png"
README_SCREENSHOT = REPO / "docs" / "screenshot-jupyterlab.png"
FAILURE_SCREENSHOTS = REPO / "out" / "browser-failures"
LATENCY_LIMIT_S = 1.0
STREAM = "[[tokens=2000]] [[delay=0.05]]"  # 100 s if nothing stops it
CURSOR = "▍"


@dataclass(frozen=True)
class Combo:
    """One front end + kernel combination."""

    ui: UI
    kernel: str
    comms_over_subshells: bool = True

    @property
    def id(self) -> str:
        suffix = "" if self.comms_over_subshells else "-no-comm-subshells"
        return f"{self.ui}-{self.kernel.removeprefix('onb-')}{suffix}"


LAB_K6, LAB_K7 = Combo("lab", "onb-k6"), Combo("lab", "onb-k7")
NB_K6, NB_K7 = Combo("notebook", "onb-k6"), Combo("notebook", "onb-k7")
LAB_K7_NO_SUBSHELLS = Combo("lab", "onb-k7", comms_over_subshells=False)
COMBOS = [LAB_K6, LAB_K7, NB_K6, NB_K7, LAB_K7_NO_SUBSHELLS]

# -- the notebook every combination opens (cell indices) --------------------------------------
SETUP = 0
MARKDOWN = 1  # right below the setup cell, for the README screenshot
STOP, AFTER_STOP = 2, 3
INTERRUPT = 4
INTERRUPT_QUEUED, AFTER_INTERRUPT = 5, 6
HTML_REPLY, ECHOED_PAYLOAD, POSITIVE_CONTROL = 7, 8, 9
AWAITED, AWAITED_CHECK = 10, 11

# What a script or handler in the page would set if model output were rendered as live HTML.
PAYLOAD = (
    "<img src=x onerror=\"window.__onb_pwned_img=1;console.log('ONB-PWNED img')\"> "
    "<script>window.__onb_pwned_script=1;console.log('ONB-PWNED script')</script> "
    "<svg onload=\"window.__onb_pwned_svg=1\"></svg> <b>not bold</b>"
)
PWNED_FLAGS = ("__onb_pwned_img", "__onb_pwned_script", "__onb_pwned_svg")


def notebook_cells(sim_url: str) -> list[str]:
    cells = {
        SETUP: "%load_ext ollama_nb\n"
        f'%config OllamaMagics.host = "{sim_url}"\n'
        '%config OllamaMagics.model = "llama3.2"',
        MARKDOWN: "%%ollama\nShow me what Markdown you can write. [[markdown]]",
        STOP: f"%%ollama\nTell me a story {STREAM}",
        AFTER_STOP: 'print("after")',
        INTERRUPT: f"%%ollama\nTell me another story {STREAM}",
        INTERRUPT_QUEUED: f"%%ollama\nTell me a third story {STREAM}",
        AFTER_INTERRUPT: 'print("queued cell ran")',
        HTML_REPLY: "%%ollama\nShow me some markup [[html]]",
        ECHOED_PAYLOAD: f"%%ollama\n{PAYLOAD} [[echo]]",
        # Proves the check can see a handler run: trusted HTML output does run it (measured).
        POSITIVE_CONTROL: "from IPython.display import HTML\n"
        "HTML('<img src=x onerror=\"window.__onb_control=1\">')",
        AWAITED: "import ollama_nb\n"
        'awaited = ollama_nb.get_session("awaited")\n'
        f'awaited.use_host("{sim_url}")\n'
        f'reply = await awaited.achat("hi {STREAM}", model="llama3.2")\n'
        "async for chunk in reply:\n"
        '    print(chunk.content, end="", flush=True)',
        AWAITED_CHECK: 'print(f"stopped={reply.stopped} kept={len(reply.partial_text())}")',
    }
    return [cells[index] for index in range(len(cells))]


# -- latencies ----------------------------------------------------------------------------------
_recorded: list[dict[str, Any]] = []


def record_latency(kind: str, combo: Combo, latency: float, event: Event) -> None:
    """Append one measurement to out/browser-latencies.json (the file is new for each run)."""
    _recorded.append(
        {
            "kind": kind,
            "ui": combo.ui,
            "kernel": combo.kernel,
            "comms_over_subshells": combo.comms_over_subshells,
            "latency_ms": round(latency * 1000, 1),
            "lines_sent": event.lines_sent,
        }
    )
    LATENCIES.parent.mkdir(parents=True, exist_ok=True)
    LATENCIES.write_text(json.dumps(_recorded, indent=1) + "\n")


@pytest.fixture(scope="module", autouse=True)
def _print_latencies(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not _recorded:
        return
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    lines = [f"browser latencies (click -> the server sees the close), in {LATENCIES}:"]
    for row in _recorded:
        subshells = "" if row["comms_over_subshells"] else " (comm subshells off)"
        lines.append(
            f"  {row['kind']:<10} {row['ui']:<8} {row['kernel']}{subshells:<21} "
            f"{row['latency_ms']:7.1f} ms  ({row['lines_sent']} lines sent)"
        )
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


# -- page helpers ---------------------------------------------------------------------------------
def click_now(page: Page, target: Locator, timeout: float = 30.0) -> float:
    """Click the middle of ``target`` with the mouse; returns time.monotonic() just before.

    Locator.click() first waits for the element to be stable (animation frames), which would be
    counted in the latency; here that wait happens before the clock is read.
    """
    target.wait_for(state="visible", timeout=timeout * 1000)
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    assert box is not None, "the element to click has no box"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    clicked_at = time.monotonic()
    page.mouse.click(x, y)
    return clicked_at


def interrupt_from_menu(nb: NotebookPage) -> float:
    """Kernel > Interrupt Kernel; returns time.monotonic() just before the menu item is clicked.

    Returns once the server has answered the front end's interrupt request.
    """
    nb.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    item = nb.page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel").filter(
        has_text="Interrupt Kernel"
    )
    with nb.page.expect_response(
        lambda r: r.request.method == "POST" and r.url.split("?")[0].endswith("/interrupt"),
        timeout=10_000,
    ) as answered:
        clicked_at = click_now(nb.page, item)
    assert answered.value.ok, f"interrupt request failed: HTTP {answered.value.status}"
    return clicked_at


def interrupt_and_wait_for_close(nb: NotebookPage, sim: Simulator) -> tuple[float, Event]:
    """Interrupt from the menu; returns the click time and the server's disconnect event."""
    interrupted = interrupt_from_menu(nb)
    try:
        return interrupted, next_event(sim, "disconnect", after=interrupted)
    except TimeoutError:
        raise AssertionError(
            "the kernel was interrupted (the server answered the request) but the stream went on "
            "for 5 s: the cell swallowed the interrupt"
        ) from None


def next_event(sim: Simulator, kind: str, *, after: float, timeout: float = 5.0) -> Event:
    """The first ``kind`` event at or after ``after`` (older ones, from earlier tests, skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        event = sim.wait_for(kind, timeout=max(deadline - time.monotonic(), 0.001))
        if event.time >= after:
            return event


def flat(text: str) -> str:
    return " ".join(text.replace(CURSOR, " ").split())


def answer_so_far(nb: NotebookPage, index: int) -> str:
    """The streamed answer of cell ``index``: from the reply's first words to the cursor, the
    live status line or the footer (whichever comes first), without the Stop button."""
    text = nb.output_text(index)
    start = text.find("(simulated reply)")
    assert start >= 0, f"no answer text in cell {index}: {text!r}"
    text = text[start:]
    for end in (CURSOR, "llama3.2 ·"):
        if end in text:
            text = text[: text.index(end)]
    return flat(text)


def error_outputs(nb: NotebookPage, index: int) -> list[str]:
    """Text of the error / stderr outputs of cell ``index``."""
    outputs = nb.cell(index).locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    )
    return [outputs.nth(i).inner_text() for i in range(outputs.count())]


def widget_count(nb: NotebookPage, index: int | None = None) -> int:
    scope = nb.page.locator(".jp-Notebook") if index is None else nb.cell(index)
    return scope.locator(".jupyter-widgets, .widget-button").count()


def start_stream(nb: NotebookPage, index: int, *queued: int) -> str:
    """Run cell ``index`` (and queue ``queued`` behind it); return the answer once text shows."""
    nb.run_cell(index, wait=False)
    for later in queued:
        nb.run_cell(later, wait=False)
        assert nb.prompt(later) == "[*]:", f"cell {later} is not queued: {nb.prompt(later)!r}"
    nb.button("Stop", index).wait_for(state="visible", timeout=30_000)
    nb.wait_for_output_text(index, "You asked", timeout=30)
    return answer_so_far(nb, index)


def assert_stopped_reply(nb: NotebookPage, index: int, shown: str) -> str:
    """The cell kept the partial answer, ends with a footer saying stopped, and has no widget."""
    text = nb.output_text(index)
    assert shown.rstrip(". ") in answer_so_far(nb, index), "the partial answer is gone"
    assert CURSOR not in text, "the streaming cursor is still shown"
    footer = nb.outputs(index).filter(has_text="llama3.2 · first token").last.inner_text()
    assert "stopped" in footer, footer
    assert widget_count(nb, index) == 0, "a widget is left in the output"
    assert "Error displaying widget" not in text
    return text


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(port=0) as running:
        yield running


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    """One context for the module, so JupyterLab's scripts come from the cache after the first."""
    created = browser.new_context(viewport={"width": 1280, "height": 900})
    yield created
    created.close()


def notebook_name(combo: Combo) -> str:
    return f"ollama-{combo.id}.ipynb"


class KernelStarter:
    """Write a combination's notebook and start its kernel on the server in the background."""

    def __init__(self, server: JupyterServer, sim: Simulator) -> None:
        self.server, self.sim = server, sim
        self._threads: dict[Combo, threading.Thread] = {}
        self._errors: dict[Combo, BaseException] = {}

    def start(self, combo: Combo) -> None:
        if combo in self._threads:
            return
        name = notebook_name(combo)
        self.server.write_notebook(name, notebook_cells(self.sim.url), kernel=combo.kernel)
        body = {"path": name, "name": name, "type": "notebook", "kernel": {"name": combo.kernel}}

        def post() -> None:
            try:
                self.server.api("POST", "/api/sessions", body, timeout=60)
            except BaseException as exc:  # reported when the combination is opened
                self._errors[combo] = exc

        thread = threading.Thread(target=post, name=f"start-{combo.id}", daemon=True)
        self._threads[combo] = thread
        thread.start()

    def wait(self, combo: Combo) -> None:
        self.start(combo)
        self._threads[combo].join(timeout=60)
        if combo in self._errors:
            raise RuntimeError(f"starting the kernel for {combo.id} failed: {self._errors[combo]}")


@pytest.fixture(scope="module")
def kernels(jupyter: JupyterServer, sim: Simulator) -> KernelStarter:
    missing = {combo.kernel for combo in COMBOS} - jupyter.kernelspecs()
    if missing:
        pytest.fail(f"kernelspecs {sorted(missing)} are not registered; run `bash scripts/test.sh`")
    return KernelStarter(jupyter, sim)


@dataclass
class Live:
    """A combination's notebook, open and set up, shared by that combination's tests."""

    combo: Combo
    nb: NotebookPage
    sim: Simulator
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    sent_to_kernel: list[str] = field(default_factory=list)  # msg_types on the kernel websocket

    @property
    def page(self) -> Page:
        return self.nb.page


def combos_in_run_order(session: pytest.Session) -> list[Combo]:
    """The combinations in the order pytest will open them (it groups tests by module params)."""
    ordered: list[Combo] = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        combo = callspec.params.get("live") if callspec is not None else None
        if isinstance(combo, Combo) and combo not in ordered:
            ordered.append(combo)
    return ordered


@pytest.fixture(scope="module", params=COMBOS, ids=lambda combo: combo.id)
def live(
    request: pytest.FixtureRequest,
    jupyter: JupyterServer,
    context: BrowserContext,
    kernels: KernelStarter,
) -> Iterator[Live]:
    combo: Combo = request.param
    kernels.wait(combo)
    jupyter.set_comms_over_subshells(combo.comms_over_subshells)
    page = context.new_page()
    dialogs: list[str] = []
    console: list[str] = []
    sent_to_kernel: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        if dialog.type == "beforeunload":
            dialog.accept()
            return
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_frame(payload: str | bytes) -> None:
        text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
        sent_to_kernel.extend(re.findall(r'"msg_type":\s*"(\w+)"', text)[:1])

    page.on("dialog", on_dialog)
    page.on("console", lambda message: console.append(message.text))
    page.on("websocket", lambda socket: socket.on("framesent", on_frame))
    try:
        nb = open_notebook(page, jupyter, notebook_name(combo), ui=combo.ui)
        upcoming = combos_in_run_order(request.session)
        if combo in upcoming[:-1]:
            kernels.start(upcoming[upcoming.index(combo) + 1])  # boots while these tests run
        nb.run_cell(SETUP)
        assert not error_outputs(nb, SETUP), nb.output_text(SETUP)
        yield Live(combo, nb, kernels.sim, dialogs, console, sent_to_kernel)
    finally:
        page.close()
        for session in jupyter.api("GET", "/api/sessions"):
            if session.get("path") == notebook_name(combo):
                try:
                    jupyter.api("DELETE", f"/api/sessions/{session['id']}")
                except urllib.error.HTTPError:
                    pass
        jupyter.set_comms_over_subshells(True)


@pytest.fixture(autouse=True)
def _after_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """On failure: a screenshot, and interrupt the kernel so the combination's next test can run."""
    yield
    report = getattr(request.node, "onb_report_call", None)
    if report is None or not report.failed or "live" not in request.fixturenames:
        return
    shared: Live = request.getfixturevalue("live")
    name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
    FAILURE_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        shared.page.screenshot(path=str(FAILURE_SCREENSHOTS / f"{name}.png"), full_page=True)
        server = shared.nb.server
        for session in server.api("GET", "/api/sessions"):
            if session.get("path") == shared.nb.name and session.get("kernel"):
                server.api("POST", f"/api/kernels/{session['kernel']['id']}/interrupt")
        shared.nb.wait_for_kernel_idle(timeout=30)
    except Exception:  # the test's own failure is what matters
        pass


# -- 0. a finished reply (first for lab-k7, so its prompt reads [2] in the README screenshot) -----
@pytest.mark.parametrize("live", [LAB_K7], indirect=True, ids=lambda combo: combo.id)
def test_markdown_reply_renders_with_its_footer_and_no_widget(live: Live) -> None:
    nb = live.nb
    run_markdown_reply(nb, live.sim)
    assert_rendered_markdown_reply(nb)
    assert error_outputs(nb, MARKDOWN) == []
    assert widget_count(nb, MARKDOWN) == 0
    take_readme_screenshot(nb)


# -- 1. the Stop button ---------------------------------------------------------------------------
def test_stop_button_closes_the_stream_keeps_the_answer_and_the_queued_cell_runs(
    live: Live, sim: Simulator
) -> None:
    nb = live.nb
    shown = start_stream(nb, STOP, AFTER_STOP)

    clicked = click_now(nb.page, nb.button("Stop", STOP))
    closed = next_event(sim, "disconnect", after=clicked)
    latency = closed.time - clicked
    record_latency("stop", live.combo, latency, closed)

    assert closed.path == "/api/generate"
    assert latency < LATENCY_LIMIT_S, f"the server saw the close {latency:.3f} s after the click"
    assert nb.wait_for_cell_done(STOP, timeout=10)
    assert error_outputs(nb, STOP) == []
    text = assert_stopped_reply(nb, STOP, shown)
    assert "Traceback" not in text and "Interrupted" not in text
    assert nb.wait_for_output_text(AFTER_STOP, "after", timeout=15).strip() == "after"
    assert nb.wait_for_cell_done(AFTER_STOP, timeout=10)


@pytest.mark.parametrize(
    "live", [LAB_K7, NB_K7, LAB_K7_NO_SUBSHELLS], indirect=True, ids=lambda combo: combo.id
)
def test_comm_subshells_are_used_as_the_combination_says(live: Live) -> None:
    """Guards the parametrization: on ipykernel 7 the page asks for a comm subshell (or not)."""
    if "comm_msg" not in live.sent_to_kernel:  # selected without the Stop test: click Stop here
        start_stream(live.nb, STOP)
        click_now(live.page, live.nb.button("Stop", STOP))
        live.nb.wait_for_cell_done(STOP, timeout=10)
    created = live.sent_to_kernel.count("create_subshell_request")
    if live.combo.comms_over_subshells:
        assert created >= 1, f"comm subshells are on but none was created: {live.sent_to_kernel}"
    else:
        assert created == 0, "comm subshells are off but the page created one"


# -- 2. kernel interrupt --------------------------------------------------------------------------
def test_kernel_interrupt_closes_the_stream_and_keeps_the_partial_answer(
    live: Live, sim: Simulator
) -> None:
    nb = live.nb
    shown = start_stream(nb, INTERRUPT)

    interrupted, closed = interrupt_and_wait_for_close(nb, sim)
    latency = closed.time - interrupted
    record_latency("interrupt", live.combo, latency, closed)

    assert latency < LATENCY_LIMIT_S, f"the server saw the close {latency:.3f} s after interrupt"
    assert nb.wait_for_cell_done(INTERRUPT, timeout=10)
    errors = error_outputs(nb, INTERRUPT)
    assert len(errors) == 1, errors
    message = errors[0].strip()
    assert "\n" not in message and message.startswith("Interrupted: "), message
    assert message.count("Interrupted") == 1, message
    text = assert_stopped_reply(nb, INTERRUPT, shown)
    for noise in ("Traceback", "KeyboardInterrupt", "CancelledError"):
        assert noise not in text
    nb.wait_for_kernel_idle(timeout=15)


def test_kernel_interrupt_cancels_the_queued_cell(live: Live, sim: Simulator) -> None:
    nb = live.nb
    start_stream(nb, INTERRUPT_QUEUED, AFTER_INTERRUPT)
    interrupt_and_wait_for_close(nb, sim)
    assert nb.wait_for_cell_done(INTERRUPT_QUEUED, timeout=10)
    # Aborted: the prompt goes back to [ ]; had it run, it would show [n] and its output.
    final = nb.wait_for_prompt(AFTER_INTERRUPT, r"\[( |\d+)\]:", timeout=15)
    nb.wait_for_kernel_idle(timeout=15)
    assert "queued cell ran" not in nb.output_text(AFTER_INTERRUPT)
    assert final == "[ ]:", f"the queued cell ran ({final})"


# -- 4. model output is untrusted HTML ------------------------------------------------------------
@pytest.mark.parametrize("live", [LAB_K7, NB_K7], indirect=True, ids=lambda combo: combo.id)
def test_html_in_model_output_is_shown_as_text_and_never_runs(live: Live) -> None:
    nb, page = live.nb, live.page
    nb.run_cell(HTML_REPLY, timeout=30)
    nb.run_cell(ECHOED_PAYLOAD, timeout=30)
    # The positive control renders after both replies; once its handler has run, theirs would have.
    nb.run_cell(POSITIVE_CONTROL, timeout=30)
    page.wait_for_function("() => window.__onb_control === 1", timeout=10_000)

    ran = page.evaluate(f"() => {json.dumps(PWNED_FLAGS)}.filter(name => name in window)")
    assert ran == [], f"model output ran in the page: {ran}"
    assert live.dialogs == [], f"model output opened dialogs: {live.dialogs}"
    assert not [line for line in live.console if "ONB-PWNED" in line]

    simulated = nb.output_text(HTML_REPLY)
    assert "<img src=x onerror=\"alert('img')\">" in simulated
    assert '<script>alert("script")</script>' in simulated
    assert "<b>bold?</b>" in simulated
    echoed = nb.output_text(ECHOED_PAYLOAD)
    for literal in ("<img src=x onerror=", "<script>window.__onb_pwned_script=1", "<svg onload=",
                    "<b>not bold</b>"):
        assert literal in echoed
    for index in (HTML_REPLY, ECHOED_PAYLOAD):
        rendered = nb.cell(index).locator(".jp-OutputArea-output")
        assert rendered.locator("img, script, svg, b").count() == 0, nb.output_html(index)


# -- 5. the awaited form --------------------------------------------------------------------------
@pytest.mark.parametrize("live", [LAB_K6, LAB_K7], indirect=True, ids=lambda combo: combo.id)
def test_interrupt_stops_an_awaited_async_for_over_a_reply(live: Live, sim: Simulator) -> None:
    nb = live.nb
    nb.run_cell(AWAITED, wait=False)
    nb.wait_for_output_text(AWAITED, "You asked", timeout=30)

    interrupted, closed = interrupt_and_wait_for_close(nb, sim)
    latency = closed.time - interrupted
    record_latency("await-int", live.combo, latency, closed)

    assert closed.path == "/api/chat"
    assert latency < LATENCY_LIMIT_S, f"the server saw the close {latency:.3f} s after interrupt"
    assert nb.wait_for_cell_done(AWAITED, timeout=10)
    assert "You asked" in nb.output_text(AWAITED)
    nb.wait_for_kernel_idle(timeout=15)
    nb.run_cell(AWAITED_CHECK)
    check = nb.wait_for_output_text(AWAITED_CHECK, "stopped=")
    assert re.search(r"stopped=True kept=[1-9]\d*", check), check


# -- 3. saved and reopened ------------------------------------------------------------------------
# Last in the file: it reloads the page, after the other lab-k7 tests have left their outputs.
@pytest.mark.parametrize("live", [LAB_K7], indirect=True, ids=lambda combo: combo.id)
def test_saved_notebook_reopens_with_the_answer_and_no_widget_error(
    live: Live, jupyter: JupyterServer
) -> None:
    nb, page = live.nb, live.page
    if nb.prompt(MARKDOWN) == "[ ]:":  # not run yet by the screenshot test (-k selection)
        run_markdown_reply(nb, live.sim)
    assert_rendered_markdown_reply(nb)

    nb.save()
    saved = jupyter.read_notebook(nb.name)
    for cell in saved["cells"]:
        for output in cell.get("outputs", []):
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), cell
    bundles = [o.get("data", {}) for o in saved["cells"][MARKDOWN]["outputs"]]
    assert any("## Simulated heading" in "".join(b.get("text/markdown", "")) for b in bundles)

    reopened = open_notebook(page, jupyter, nb.name, ui="lab")
    reopened.wait_for_output_text(MARKDOWN, "first token", timeout=30)
    assert_rendered_markdown_reply(reopened)
    # textContent, not innerText: cells scrolled out of view have no innerText in Lab 4
    everything = page.locator(".jp-Notebook").first.text_content() or ""
    assert "simulated reply" in everything
    assert "Error displaying widget" not in everything
    assert "model not found" not in everything
    assert widget_count(reopened) == 0
    live.nb = reopened


def run_markdown_reply(nb: NotebookPage, sim: Simulator) -> None:
    """Run the Markdown cell at a believable pace (40 tokens/s) for the footer's numbers."""
    sim.tokens_per_second = 40
    try:
        nb.run_cell(MARKDOWN, timeout=30)
    finally:
        sim.tokens_per_second = None


def assert_rendered_markdown_reply(nb: NotebookPage) -> None:
    cell = nb.cell(MARKDOWN)
    cell.scroll_into_view_if_needed()  # off-screen cells of a long notebook have no innerText
    cell.locator("h2", has_text="Simulated heading").wait_for(timeout=10_000)
    assert cell.locator("li").count() == 3
    assert cell.locator("pre code, .jp-RenderedMarkdown pre").count() >= 1
    assert cell.locator("table td", has_text="alpha").count() == 1
    last = nb.outputs(MARKDOWN).last
    last.scroll_into_view_if_needed()  # innerText is empty for what JupyterLab has not laid out
    footer = (last.text_content() or "").strip()
    assert footer.startswith("llama3.2 · first token"), footer
    assert "stopped" not in footer and "error" not in footer


def take_readme_screenshot(nb: NotebookPage) -> Path:
    """JupyterLab from the menu bar down to the end of the Markdown reply, file browser closed."""
    page = nb.page
    current_tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current_tab.count():
        current_tab.first.click()  # collapses the left sidebar
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").wait_for(
            state="detached", timeout=5_000
        )
    nb.cell(MARKDOWN).locator(".jp-InputPrompt").click()  # the reply's cell is the active one
    page.keyboard.press("Escape")
    page.locator(".jp-Notebook").first.evaluate("node => node.scrollTop = 0")
    box = nb.cell(MARKDOWN).bounding_box()
    assert box is not None
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SCREENSHOT),
        clip={"x": 0, "y": 0, "width": 1280, "height": min(box["y"] + box["height"] + 6, 900)},
    )
    if os.environ.get("ONB_UPDATE_SCREENSHOT") == "1" or not README_SCREENSHOT.exists():
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCREENSHOT, README_SCREENSHOT)
    return SCREENSHOT
