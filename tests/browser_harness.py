"""What the browser test directories (tests/browser, tests/vscode) share: the CI switch, marking (and skipping) a
directory's tests, and screenshots of a failed test's pages.

A directory's conftest.py uses it like this:

    from browser_harness import mark_directory, pytest_runtest_makereport, save_failure_screenshots  # noqa: F401

    def pytest_collection_modifyitems(config, items):
        mark_directory(items, HERE, ("browser",), why_unavailable(), "browser tests")

Importing ``pytest_runtest_makereport`` into a conftest.py makes pytest run it for that directory's tests: it keeps
each phase's report on the test item (``item.onb_report_call``), which the fixtures read after the test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page


def running_in_ci() -> bool:
    """True under CI=true (any value but empty, 0, false, no): a missing tool then fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def browser_missing(setup: str) -> str | None:
    """Why no browser test can run here (Debian's chromium or Playwright missing), or None; ``setup`` installs them."""
    from browser.jupyter import chromium_path

    if chromium_path() is None:
        return f"chromium is not installed (run `{setup}`, which apt-installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"playwright is not installed (run `{setup}`)"
    return None


def mark_directory(
    items: list[pytest.Item], directory: Path, markers: Iterable[str], reason: str | None, what: str
) -> None:
    """Mark the tests under ``directory``; skip them (outside CI) when ``reason`` says a tool is missing."""
    for item in items:
        if directory not in Path(str(item.path)).resolve().parents:
            continue
        for marker in markers:
            item.add_marker(getattr(pytest.mark, marker))
        if reason and not running_in_ci():
            item.add_marker(pytest.mark.skip(reason=f"{what} skipped: {reason}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"onb_report_{report.when}", report)
    return report


def failure_name(request: pytest.FixtureRequest) -> str | None:
    """A file-name-safe name for the running test if its call phase failed, else None."""
    report = getattr(request.node, "onb_report_call", None)
    if report is None or not report.failed:
        return None
    return re.sub(r"[^\w.-]+", "_", request.node.nodeid)


def save_failure_screenshots(
    request: pytest.FixtureRequest, pages: list[Page], directory: Path, *, full_page: bool = False
) -> None:
    """If the test failed: a screenshot of each page in ``directory`` (``NAME.png``, or ``NAME-i.png`` for several)."""
    name = failure_name(request)
    if name is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for index, page in enumerate(pages):
        suffix = "" if len(pages) == 1 else f"-{index}"
        with suppress(Exception):  # the page may be gone; the test's failure matters more
            page.screenshot(path=str(directory / f"{name}{suffix}.png"), full_page=full_page)
