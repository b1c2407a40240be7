"""Fixtures for the browser tests: a JupyterLab server per module, a fresh page per test.

    def test_something(notebook):
        nb = notebook(["print(1)"], kernel="onb-k6", ui="lab")
        nb.run_cell(0)
        assert nb.output_text(0) == "1"

Every test in this directory is marked ``browser`` (deselect with ``-m "not browser"``).
Without Debian's chromium the directory is skipped, except under CI (CI=true), where that fails.
A failing test leaves a screenshot in out/browser-failures/.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser_harness import (  # noqa: F401 - the hook applies to this directory's tests
    browser_missing,
    mark_directory,
    pytest_runtest_makereport,
    save_failure_screenshots,
)

from .jupyter import (
    KERNELS,
    REPO,
    UI,
    JupyterServer,
    NotebookPage,
    chromium,
    jupyter_server,
    open_notebook,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

BROWSER_DIR = Path(__file__).resolve().parent
FAILURE_SCREENSHOTS = REPO / "out" / "browser-failures"


def _why_unavailable() -> str | None:
    return browser_missing("bash scripts/test.sh")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark_directory(items, BROWSER_DIR, ("browser",), _why_unavailable(), "browser tests")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # package scope, not session: Playwright's sync API keeps an asyncio loop running in the main
    # thread while it is open, and the tests outside tests/browser need asyncio.run().
    reason = _why_unavailable()
    if reason:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def jupyter() -> Iterator[JupyterServer]:
    """A ``jupyter lab`` (also serving Notebook 7) for the tests of one module."""
    with jupyter_server() as server:
        yield server


@pytest.fixture
def page(
    browser: Browser, jupyter: JupyterServer, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A new browser context and page; kernels are shut down and comm subshells reset after."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    try:
        yield new_page
    finally:
        save_failure_screenshots(request, [new_page], FAILURE_SCREENSHOTS, full_page=True)
        context.close()
        jupyter.shutdown_kernels()
        jupyter.set_comms_over_subshells(True)


_names = itertools.count()


@pytest.fixture
def notebook(
    page: Page, jupyter: JupyterServer, request: pytest.FixtureRequest
) -> Callable[..., NotebookPage]:
    """Factory: write a notebook with ``cells`` for ``kernel`` and open it in ``ui``.

    ``notebook(cells, kernel="onb-k7", ui="lab", comms_over_subshells=True, name=None)``
    """

    def open_new(
        cells: Sequence[Any],
        *,
        kernel: str = "onb-k7",
        ui: UI = "lab",
        comms_over_subshells: bool = True,
        name: str | None = None,
    ) -> NotebookPage:
        if kernel in KERNELS and kernel not in jupyter.kernelspecs():
            pytest.fail(
                f"kernelspec {kernel!r} is not registered in .venv; run `bash scripts/test.sh`",
                pytrace=False,
            )
        stem = re.sub(r"[^\w]+", "_", request.node.name).strip("_")[:60]
        name = name or f"{stem}-{next(_names)}.ipynb"
        jupyter.write_notebook(name, cells, kernel=kernel)
        jupyter.set_comms_over_subshells(comms_over_subshells)
        return open_notebook(page, jupyter, name, ui=ui)

    return open_new
