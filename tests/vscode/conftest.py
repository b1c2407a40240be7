"""Fixtures for the VS Code tests: one Jupyter server, one code-server and one browser for the whole directory.

Every test here is marked ``vscode`` and ``browser``. Without the tools scripts/test.sh installs (.venv-vscode/,
Debian's chromium, Playwright) the directory is skipped, except under CI (CI=true), where that fails.
A failing test leaves a screenshot and the browser console (ConsoleLog) in out/vscode-failures/.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser_harness import (  # noqa: F401 - the hook applies to this directory's tests
    browser_missing,
    failure_name,
    mark_directory,
    pytest_runtest_makereport,
    save_failure_screenshots,
)
from browser.jupyter import REPO, JupyterServer, chromium, jupyter_server

from .code_server import JUPYTER_SERVER_ARGS, CodeServer, ConsoleLog, code_server, why_unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

VSCODE_DIR = Path(__file__).resolve().parent
FAILURE_SCREENSHOTS = REPO / "out" / "vscode-failures"


def _why_unavailable() -> str | None:
    return browser_missing("bash scripts/test.sh tests/vscode") or why_unavailable()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark_directory(items, VSCODE_DIR, ("browser", "vscode"), _why_unavailable(), "VS Code tests")


@pytest.fixture(scope="package")
def workspace() -> Iterator[Path]:
    """The directory both servers share: notebooks are written here and opened in VS Code."""
    base = Path(tempfile.mkdtemp(prefix="onb-vscode-"))
    (base / "workspace").mkdir()
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="package")
def jupyter() -> Iterator[JupyterServer]:
    with jupyter_server(extra_args=JUPYTER_SERVER_ARGS) as server:
        yield server


@pytest.fixture(scope="package")
def vscode(jupyter: JupyterServer, workspace: Path) -> Iterator[CodeServer]:
    reason = _why_unavailable()
    if reason:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    # VS Code opens the notebook files from the Jupyter server's own root, so both see one file
    with code_server(jupyter.root_dir, workspace) as server:
        yield server


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def console() -> ConsoleLog:
    """The browser console of the test's context (``context`` fills it)."""
    return ConsoleLog()


@pytest.fixture
def context(browser: Browser, console: ConsoleLog, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A fresh browser context per test; a screenshot of its page and its browser console when the test failed.

    The window is tall: VS Code renders the outputs of the cells in view only, and every cell of a test notebook
    must be in view to be read.
    """
    created = browser.new_context(viewport={"width": 1400, "height": 4000})
    console.watch(created)
    try:
        yield created
    finally:
        name = failure_name(request)
        if name is not None:
            console.write(FAILURE_SCREENSHOTS / f"{name}-console.log")
        elif os.environ.get("ONB_VSCODE_CONSOLE"):
            console.write(REPO / "out" / "vscode-console" / f"{request.node.name}.log")
        save_failure_screenshots(request, created.pages, FAILURE_SCREENSHOTS)
        created.close()
