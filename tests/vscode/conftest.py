"""Fixtures for the VS Code tests: one Jupyter server, one code-server and one browser for the whole directory.

Every test here is marked ``vscode`` and ``browser``. Without the tools scripts/test.sh installs (.venv-vscode/,
Debian's chromium, Playwright) the directory is skipped, except under CI (CI=true), where that fails.
A failing test leaves a screenshot in out/vscode-failures/.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser.conftest import running_in_ci
from browser.jupyter import REPO, JupyterServer, chromium, chromium_path, jupyter_server

from .code_server import JUPYTER_SERVER_ARGS, CodeServer, ConsoleLog, code_server, why_unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

VSCODE_DIR = Path(__file__).resolve().parent
FAILURE_SCREENSHOTS = REPO / "out" / "vscode-failures"


def _why_unavailable() -> str | None:
    if chromium_path() is None:
        return "chromium is not installed (run `bash scripts/test.sh tests/vscode`, which apt-installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (run `bash scripts/test.sh tests/vscode`)"
    return why_unavailable()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _why_unavailable()
    for item in items:
        if VSCODE_DIR not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.browser)
        item.add_marker(pytest.mark.vscode)
        if reason and not running_in_ci():
            item.add_marker(pytest.mark.skip(reason=f"VS Code tests skipped: {reason}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"onb_report_{report.when}", report)
    return report


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
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A fresh browser context per test; a screenshot of its page when the test failed.

    The window is tall: VS Code renders the outputs of the cells in view only, and every cell of a test notebook
    must be in view to be read.
    """
    created = browser.new_context(viewport={"width": 1400, "height": 4000})
    console = ConsoleLog()
    console.watch(created)
    try:
        yield created
    finally:
        report = getattr(request.node, "onb_report_call", None)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        if os.environ.get("ONB_VSCODE_CONSOLE"):
            console.write(FAILURE_SCREENSHOTS.parent / "vscode-console" / f"{name}.log")
        if report is not None and report.failed:
            console.write(FAILURE_SCREENSHOTS / f"{name}-console.log")
            FAILURE_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for index, page in enumerate(created.pages):
                with suppress(Exception):  # the page may be gone; the test's failure matters more
                    page.screenshot(path=str(FAILURE_SCREENSHOTS / f"{name}-{index}.png"))
        created.close()
