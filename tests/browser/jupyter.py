"""Drive a real JupyterLab 4 / Notebook 7 in headless Debian Chromium (sync Playwright).

Facts this harness relies on were measured first; see docs/stopping.md.

    with jupyter_server() as server, chromium() as browser:
        server.write_notebook("x.ipynb", ["import ollama_nb"], kernel="onb-k6")
        nb = open_notebook(browser.new_page(), server, "x.ipynb", ui="lab")
        nb.run_cell(0)
        assert nb.prompt(0) == "[1]:"

Kernels: scripts/test.sh registers "onb-k7" (.venv, ipykernel 7) and "onb-k6" (.venv-k6,
ipykernel 6) into .venv, where the server started here finds them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

REPO = Path(__file__).resolve().parents[2]
KERNELS = ("onb-k6", "onb-k7")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
UI = Literal["lab", "notebook"]

_PROMPT_DONE = re.compile(r"^\[\d+\]:$")
_SUBSHELL_SETTINGS = Path("@jupyterlab/apputils-extension/kernels-settings.jupyterlab-settings")
_QUIET_SETTINGS = {
    # No news / update toast over the notebook, and no request to a website.
    Path("@jupyterlab/apputils-extension/notification.jupyterlab-settings"): {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def chromium_path() -> str | None:
    """Debian's chromium (``apt-get install chromium``), or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def jupyter_executable() -> Path:
    """``jupyter`` from the repository's .venv, else from the running interpreter's environment."""
    for candidate in (REPO / ".venv" / "bin" / "jupyter", Path(sys.executable).parent / "jupyter"):
        if candidate.exists():
            return candidate
    raise RuntimeError("jupyter is not installed in .venv; run `bash scripts/test.sh` once")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def notebook_json(cells: Sequence[Any], kernel: str = "onb-k7") -> dict[str, Any]:
    """A minimal nbformat 4.5 notebook; a cell is a code string or (cell_type, source)."""
    built = []
    for index, cell in enumerate(cells):
        cell_type, source = ("code", cell) if isinstance(cell, str) else cell
        entry: dict[str, Any] = {
            "cell_type": cell_type,
            "id": f"cell-{index}",
            "metadata": {},
            "source": source,
        }
        if cell_type == "code":
            entry.update(execution_count=None, outputs=[])
        built.append(entry)
    return {
        "cells": built,
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": kernel, "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` on 127.0.0.1 with its own temporary directories."""

    url: str
    token: str
    root_dir: Path
    settings_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def address(self, path: str) -> str:
        """An absolute URL for a server path, with the token."""
        separator = "&" if "?" in path else "?"
        return f"{self.url}{path}{separator}token={self.token}"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        """Call the server's REST API (``/api/...``) and decode its JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def write_notebook(self, name: str, cells: Sequence[Any], kernel: str = "onb-k7") -> Path:
        """Write a notebook into the server's root before opening it."""
        path = self.root_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(notebook_json(cells, kernel), indent=1))
        return path

    def read_notebook(self, name: str) -> dict[str, Any]:
        """The notebook file as saved on disk (after ``NotebookPage.save()``)."""
        return json.loads((self.root_dir / name).read_text())

    def set_comms_over_subshells(self, enabled: bool) -> None:
        """Lab/Notebook 7 setting ``commsOverSubshells``; read by pages opened afterwards."""
        path = self.settings_dir / _SUBSHELL_SETTINGS
        if enabled:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"commsOverSubshells": "disabled"}))

    def kernel_states(self) -> list[str]:
        """``execution_state`` of every running kernel."""
        return [kernel["execution_state"] for kernel in self.api("GET", "/api/kernels")]

    def kernel_state(self, name: str) -> str | None:
        """``execution_state`` of the kernel of the session for notebook ``name``, if any."""
        for session in self.api("GET", "/api/sessions"):
            if session.get("path") == name and session.get("kernel"):
                return str(session["kernel"].get("execution_state"))
        return None

    def kernelspecs(self) -> set[str]:
        return set(self.api("GET", "/api/kernelspecs")["kernelspecs"])

    def shutdown_kernels(self) -> None:
        """Delete every session and kernel, so the next test starts clean."""
        for session in self.api("GET", "/api/sessions"):
            with suppress(urllib.error.HTTPError):  # already gone
                self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            with suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def jupyter_server(
    *,
    comms_over_subshells: bool = True,
    startup_timeout: float = 90.0,
    extra_args: Sequence[str] = (),
) -> Iterator[JupyterServer]:
    """Start ``jupyter lab`` from .venv on a free port, with a token and temporary dirs; stop it.

    The same server serves Notebook 7 at ``/notebooks/<name>``. ``extra_args`` are added to the
    command line (tests/vscode opens CORS for VS Code's Jupyter extension).
    """
    base = Path(tempfile.mkdtemp(prefix="onb-jupyter-"))
    root_dir, config_dir = base / "root", base / "config"
    settings_dir, workspaces_dir = config_dir / "lab" / "user-settings", base / "workspaces"
    for directory in (root_dir, settings_dir, workspaces_dir):
        directory.mkdir(parents=True)
    for relative, values in _QUIET_SETTINGS.items():
        (settings_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (settings_dir / relative).write_text(json.dumps(values))

    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        # Lab and Notebook 7 both default user settings to $JUPYTER_CONFIG_DIR/lab/user-settings.
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_PATH", None)
    command = [
        str(jupyter_executable()),
        "lab",
        "--allow-root",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.user_settings_dir={settings_dir}",
        f"--LabApp.workspaces_dir={workspaces_dir}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the server
        *extra_args,
    ]
    log_path = base / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=root_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = JupyterServer(
        url=f"http://127.0.0.1:{port}",
        token=token,
        root_dir=root_dir,
        settings_dir=settings_dir,
        log_path=log_path,
        process=process,
    )
    server.set_comms_over_subshells(comms_over_subshells)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({process.returncode}):\n{server.log()}")
            try:
                server.api("GET", "/api/status", timeout=1.0)
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"jupyter lab did not answer in {startup_timeout:g} s:\n{server.log()}"
                    ) from None
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: the server shuts its kernels down
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def chromium(*, headless: bool = True) -> Iterator[Browser]:
    """A Playwright Browser on Debian's chromium (Playwright's own browser download fails here)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("chromium is not installed: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=headless, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


class NotebookPage:
    """One notebook open in a browser page, in JupyterLab (``ui="lab"``) or Notebook 7."""

    def __init__(self, page: Page, server: JupyterServer, name: str, ui: UI) -> None:
        self.page = page
        self.server = server
        self.name = name
        self.ui = ui

    # -- locators ---------------------------------------------------------------------------
    def cells(self) -> Locator:
        return self.page.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        return self.cells().nth(index)

    def outputs(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-OutputArea-output")

    # -- kernel -----------------------------------------------------------------------------
    def wait_for_kernel_idle(self, timeout: float = 60.0) -> None:
        """Wait until this notebook's kernel is idle on the server and in the front end."""
        deadline = time.monotonic() + timeout
        while self.server.kernel_state(self.name) != "idle":
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the kernel of {self.name} is {self.server.kernel_state(self.name)!r}, "
                    f"not idle, after {timeout:g} s"
                )
            self.page.wait_for_timeout(100)
        self.page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first.wait_for(
            state="attached", timeout=max(deadline - time.monotonic(), 1.0) * 1000
        )

    def interrupt_kernel(self) -> None:
        """Kernel > Interrupt Kernel from the menu bar (same in Lab and Notebook 7)."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
        menu_items = self.page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel")
        menu_items.filter(has_text="Interrupt Kernel").click()

    # -- cells ------------------------------------------------------------------------------
    def prompt(self, index: int) -> str:
        """The input prompt without spaces: ``[ ]:``, ``[*]:`` while queued/running, ``[3]:``."""
        text = self.cell(index).locator(".jp-InputPrompt").inner_text()
        return re.sub(r"\s+", "", text).replace("[]", "[ ]")

    def is_running(self, index: int) -> bool:
        return self.prompt(index) == "[*]:"

    def type_into_cell(self, index: int, source: str) -> None:
        """Replace a cell's source with ``source`` (inserted as is: no auto-indent or closing)."""
        editor = self.cell(index).locator(".cm-content")
        editor.click()
        self.page.keyboard.press("Control+a")
        if source:
            self.page.keyboard.insert_text(source)
        else:
            self.page.keyboard.press("Delete")

    def run_cell(
        self,
        index: int,
        source: str | None = None,
        *,
        wait: bool = True,
        timeout: float = 60.0,
    ) -> None:
        """Type ``source`` (if given) into cell ``index`` and run it with Shift+Enter.

        Right after a server start Shift+Enter was sometimes ignored; when the prompt has not
        changed after 3 s, Ctrl+Enter is tried. With ``wait`` (default) it returns once the cell
        has finished (prompt ``[n]:``), else as soon as it is queued or running.
        """
        if source is not None:
            self.type_into_cell(index, source)
        else:
            self.cell(index).locator(".cm-content").click()
        before = self.prompt(index)
        self.page.keyboard.press("Shift+Enter")
        if not self._wait_prompt_change(index, before, 3.0):
            self.cell(index).locator(".cm-content").click()
            self.page.keyboard.press("Control+Enter")
            if not self._wait_prompt_change(index, before, 5.0):
                raise TimeoutError(f"cell {index} did not start after Shift+Enter and Ctrl+Enter")
        if wait:
            self.wait_for_cell_done(index, timeout=timeout)

    def _wait_prompt_change(self, index: int, before: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = self.prompt(index)
            if now == "[*]:" or (now != before and now != "[ ]:"):
                return True
            self.page.wait_for_timeout(50)
        return False

    def wait_for_cell_done(self, index: int, timeout: float = 60.0) -> str:
        """Wait until cell ``index`` shows ``[n]:``; returns that prompt."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.prompt(index)
            if _PROMPT_DONE.match(now):
                return now
            if time.monotonic() > deadline:
                raise TimeoutError(f"cell {index} still shows {now!r} after {timeout:g} s")
            self.page.wait_for_timeout(50)

    def wait_for_prompt(self, index: int, pattern: str, timeout: float = 30.0) -> str:
        """Wait until cell ``index``'s prompt matches the regular expression ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.prompt(index)
            if re.fullmatch(pattern, now):
                return now
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"cell {index} shows {now!r}, not /{pattern}/, after {timeout:g} s"
                )
            self.page.wait_for_timeout(50)

    # -- outputs and widgets ----------------------------------------------------------------
    def output_text(self, index: int) -> str:
        """The visible text of all rendered outputs of cell ``index``."""
        outputs = self.outputs(index)
        return "\n".join(outputs.nth(i).inner_text() for i in range(outputs.count()))

    def output_html(self, index: int) -> str:
        """The rendered HTML of all outputs of cell ``index``."""
        outputs = self.outputs(index)
        return "\n".join(outputs.nth(i).inner_html() for i in range(outputs.count()))

    def wait_for_output_text(self, index: int, text: str, timeout: float = 30.0) -> str:
        """Wait until cell ``index``'s outputs contain ``text``; returns all output text."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.output_text(index)
            if text in now:
                return now
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"cell {index} output lacks {text!r} after {timeout:g} s: {now!r}"
                )
            self.page.wait_for_timeout(50)

    def button(self, text: str, cell: int | None = None) -> Locator:
        """The ipywidgets button labelled ``text`` (in cell ``cell`` when given)."""
        scope = self.page if cell is None else self.cell(cell)
        return scope.locator("button.widget-button", has_text=text).first

    def click_button(self, text: str, cell: int | None = None, timeout: float = 30.0) -> float:
        """Click the widget button labelled ``text``; returns time.monotonic() of the click."""
        button = self.button(text, cell)
        button.wait_for(state="visible", timeout=timeout * 1000)
        clicked_at = time.monotonic()
        button.click()
        return clicked_at

    # -- file -------------------------------------------------------------------------------
    def save(self, timeout: float = 15.0) -> None:
        """Escape, then Control+s; returns once the server has written the file."""
        self.page.keyboard.press("Escape")
        with self.page.expect_response(
            lambda r: "/api/contents/" in r.url and r.request.method == "PUT",
            timeout=timeout * 1000,
        ) as saved:
            self.page.keyboard.press("Control+s")
        if not saved.value.ok:
            raise RuntimeError(f"saving {self.name} failed: HTTP {saved.value.status}")

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(target), full_page=True)
        return target


def notebook_address(server: JupyterServer, name: str, ui: UI) -> str:
    """Lab opens in a fresh workspace each time, so no earlier layout is restored."""
    if ui == "lab":
        return server.address(f"/lab/workspaces/w{secrets.token_hex(4)}/tree/{name}")
    if ui == "notebook":
        return server.address(f"/notebooks/{name}")
    raise ValueError(f"ui must be 'lab' or 'notebook', not {ui!r}")


def open_notebook(
    page: Page, server: JupyterServer, name: str, ui: UI = "lab", timeout: float = 90.0
) -> NotebookPage:
    """Open ``name`` (already in the server's root) and wait until its kernel is idle."""
    notebook = NotebookPage(page, server, name, ui)
    page.goto(notebook_address(server, name, ui))
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.wait_for(timeout=timeout * 1000)
    notebook.wait_for_kernel_idle(timeout=timeout)
    return notebook
